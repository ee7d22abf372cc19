"""Loss terms of one alignment round (docs/methods.md section 4), in torch.

Constraint terms: temperature-scaled cross-entropy over candidate concepts (point-set pull), a hinge
margin beyond the start-of-round similarity (push), centroid + MMD (set-set pull) plus symmetric
InfoNCE over known pairs, and the preservation term (KL between start-of-round and adapted
similarity distributions of unselected reference points, plus ||g(e) - e||^2).
"""

from __future__ import annotations


def _F():
    import torch.nn.functional as F

    return F


def pointset_pull(z_members, same_modality, z_anchor, z_candidates, temperature):
    """CE making the anchor the best match of each member among the candidates (cross-modal members);
    1 - cos for members of the anchor's own modality."""
    import torch

    F = _F()
    terms = []
    cross = ~same_modality
    if cross.any():
        zm = z_members[cross]
        logits = torch.cat([zm @ z_anchor[:, None], zm @ z_candidates.T], dim=1) / temperature
        terms.append(F.cross_entropy(logits, torch.zeros(len(zm), dtype=torch.long), reduction="sum"))
    if same_modality.any():
        terms.append((1.0 - z_members[same_modality] @ z_anchor).sum())
    return sum(terms) / len(z_members)


def pointset_push(z_members, z_anchor, cos0, margin):
    """Hinge: each member's cosine to the anchor must drop by at least ``margin`` below its start value."""
    return (z_members @ z_anchor - (cos0 - margin)).clamp_min(0).mean() / max(margin, 1e-6)


def mmd(x, y, scales=(0.25, 1.0)):
    """Squared MMD with a sum of RBF kernels (unit vectors: squared distances lie in [0, 4])."""

    def k(a, b):
        d2 = (2.0 - 2.0 * a @ b.T).clamp_min(0)
        return sum((-d2 / (2 * s)).exp() for s in scales)

    return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()


def setset_pull(za, zb, paired, temperature):
    """Match two sets: InfoNCE over pairs when paired; centroid distance + MMD otherwise."""
    import torch

    F = _F()
    if paired:
        logits = za @ zb.T / temperature
        lab = torch.arange(len(za))
        return 0.5 * (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab))
    return ((za.mean(0) - zb.mean(0)) ** 2).sum() + mmd(za, zb)


def setset_push(za, zb, cos0, margin):
    """Hinge on the cosine between the two set centroids (must drop ``margin`` below its start value)."""
    F = _F()
    ca, cb = F.normalize(za.mean(0), dim=0), F.normalize(zb.mean(0), dim=0)
    return (ca @ cb - (cos0 - margin)).clamp_min(0) / max(margin, 1e-6)


def preservation_kl(zq0, zk0, zq, zk, temperature):
    """KL(p0 || p) of the query rows' softmax similarity distributions over the key rows."""
    F = _F()
    logp0 = F.log_softmax(zq0 @ zk0.T / temperature, dim=1)
    logp = F.log_softmax(zq @ zk.T / temperature, dim=1)
    return F.kl_div(logp, logp0, log_target=True, reduction="batchmean")
