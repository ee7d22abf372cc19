"""The probe's kinds: each turns a ``Context`` (readings, neighbourhoods, clusters) into candidate slices.

A candidate is a dict with ``kind``, ``name``, ``rows`` (row indices of the EmbeddingSet), ``score`` (the
expected number of misread rows in the slice: one scale for every kind, see METHODS section 6),
``evidence`` (the figures behind the score) and ``suggestion`` (the constraint that would fix it, or None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from . import space


@dataclass
class Context:
    """What every kind reads: the set, its image rows, their PCA, and (with concepts) the readings."""

    es: object
    params: dict
    image_rows: np.ndarray
    z: np.ndarray
    concept_rows: np.ndarray | None = None
    concept_names: list = field(default_factory=list)
    prompts: bool = False  # concepts are class prompts (else: every text row)
    r1: np.ndarray | None = None
    r2: np.ndarray | None = None
    margin: np.ndarray | None = None
    balanced: np.ndarray | None = None
    bal_other: np.ndarray | None = None  # the best concept other than the raw reading, in balanced scores
    bal_margin: np.ndarray | None = None  # balanced score of the raw reading minus that of ``bal_other``
    cons: np.ndarray | None = None
    share: np.ndarray | None = None
    clusters: np.ndarray | None = None
    notes: list = field(default_factory=list)

    def cluster_labels(self) -> np.ndarray:
        """k-means clusters of the image rows (PCA space), about ``cluster_size`` images each; made once."""
        if self.clusters is None:
            p = self.params
            k = max(2, int(round(len(self.z) / p["cluster_size"])))
            self.clusters = space.kmeans(self.z, k, p["max_fit"], p["random_state"])
        return self.clusters


def _short(text, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _point_set(anchor_row, rows):
    from ..alignment.constraints import PointSet

    return PointSet(int(anchor_row), np.asarray(rows, np.int64))


# ------------------------------------------------------------------------------ readings: hub, leak, confusion
def reading_groups(ctx: Context) -> list:
    """Images whose zero-shot reading disagrees with their image neighbours' consensus (of hubness-balanced
    readings), grouped by (reading a, consensus b). The group is a **hub** slice when ``a`` claims far more
    than its share of the images, a **leak** when ``b`` is the reading of almost no image (its own images
    are read as ``a``), else a **confusion**."""
    p = ctx.params
    n_img, n_c = len(ctx.image_rows), len(ctx.concept_rows)
    expected = n_img / n_c
    claims = np.bincount(ctx.r1, minlength=n_c)
    claims_bal = np.bincount(ctx.balanced, minlength=n_c)
    flagged = (ctx.cons != ctx.r1) & (ctx.share >= p["min_share"])
    out = []
    if not flagged.any():
        return out
    key = ctx.r1[flagged] * n_c + ctx.cons[flagged]
    idx = np.flatnonzero(flagged)
    order = np.argsort(key, kind="stable")
    key, idx = key[order], idx[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    names = ctx.concept_names
    groups = [g for g in np.split(idx, cuts) if len(g) >= p["min_size"]]
    by_b: dict = {}
    for g in groups:
        by_b.setdefault(int(ctx.cons[g[0]]), []).append(g)
    # one more group per concept whose neighbourhoods are read as several others: all of its own misread images
    groups += [np.sort(np.concatenate(gs)) for gs in by_b.values() if len(gs) > 1]
    for grp in groups:
        reads = np.bincount(ctx.r1[grp], minlength=n_c)
        a, b = int(reads.argmax()), int(ctx.cons[grp[0]])
        others = [names[j] for j in np.flatnonzero(reads) if j != a]
        read_as = f"'{_short(names[a])}'" + (f" (and {len(others)} other)" if others else "")
        score = float(ctx.share[grp].sum())
        runner = float(np.mean(ctx.r2[grp] == b))
        if claims[a] >= p["hub_ratio"] * expected:
            kind = "hub"
            name = f"{len(grp)} images read as {read_as}, runner-up '{_short(names[b])}'"
        elif claims[b] <= p["empty_ratio"] * expected:
            kind = "leak"
            name = f"'{_short(names[b])}' reads {claims[b]} images; {len(grp)} of its own read as {read_as}"
        else:
            kind = "confusion"
            name = f"{len(grp)} images read as {read_as}, their neighbours as '{_short(names[b])}'"
        out.append(
            {
                "kind": kind,
                "name": name,
                "rows": ctx.image_rows[grp],
                "score": score,
                "evidence": {
                    "read_as": names[a],
                    "also_read_as": others,
                    "neighbours_read_as": names[b],
                    "consensus_share": round(float(ctx.share[grp].mean()), 4),
                    "runner_up_share": round(runner, 4),
                    "mean_margin": round(float(ctx.margin[grp].mean()), 4),
                    "claims": int(claims[a]),
                    "claims_balanced": int(claims_bal[a]),
                    "claims_of_runner_up": int(claims[b]),
                    "expected_claims": round(expected, 2),
                    "concepts": [int(ctx.concept_rows[a]), int(ctx.concept_rows[b])],
                },
                "suggestion": _point_set(ctx.concept_rows[b], ctx.image_rows[grp]),
            }
        )
    return out


def near_misses(ctx: Context) -> list:
    """Images read as ``a`` whose hubness-balanced scores put another concept ``b`` within ``delta`` of ``a``
    (or above it), where ``a`` claims more images than its balanced reading gives it and ``b`` fewer: the raw
    reading's excess over the balanced one is taken from ``b``, and these are the images it is taken from.
    ``delta`` is ``near_margin`` in units of a concept's expected share of the images (1 / number of
    concepts: a balanced score is a rank among the images, and a class's own images span about that much of
    it). One **confusion** slice per (a, b); each image counts ``clip(1/2 - margin / (2 delta), 0, 1)``
    towards the score (a coin flip at a zero balanced margin, sure where the balanced reading is ``b``), and
    the score is at most the raw reading's excess on ``a`` and its deficit on ``b`` (no more of ``b``'s
    images can be read as ``a`` than the readings' difference says)."""
    p = ctx.params
    if p["near_margin"] is None or ctx.bal_margin is None:
        return []
    n_c = len(ctx.concept_rows)
    delta = p["near_margin"] / n_c
    claims = np.bincount(ctx.r1, minlength=n_c)
    claims_bal = np.bincount(ctx.balanced, minlength=n_c)
    over, under = claims > claims_bal, claims < claims_bal
    flagged = (ctx.bal_margin <= delta) & over[ctx.r1] & under[ctx.bal_other] & (ctx.bal_other != ctx.r1)
    if not flagged.any():
        return []
    idx = np.flatnonzero(flagged)
    key = ctx.r1[idx] * n_c + ctx.bal_other[idx]
    order = np.argsort(key, kind="stable")
    idx, key = idx[order], key[order]
    names = ctx.concept_names
    out = []
    for grp in np.split(idx, np.flatnonzero(np.diff(key)) + 1):
        if len(grp) < p["min_size"]:
            continue
        a, b = int(ctx.r1[grp[0]]), int(ctx.bal_other[grp[0]])
        d = ctx.bal_margin[grp].astype(np.float64)
        prob = np.clip(0.5 - d / (2.0 * delta), 0.0, 1.0) if delta > 0 else (d < 0).astype(np.float64)
        out.append(
            {
                "kind": "confusion",
                "name": f"{len(grp)} images read as '{_short(names[a])}', just over '{_short(names[b])}'",
                "rows": ctx.image_rows[grp],
                "score": float(min(prob.sum(), claims[a] - claims_bal[a], claims_bal[b] - claims[b])),
                "evidence": {
                    "read_as": names[a],
                    "near": names[b],
                    "neighbours_read_as": names[int(np.bincount(ctx.cons[grp], minlength=n_c).argmax())]
                    if ctx.cons is not None
                    else None,
                    "expected_misread": round(float(prob.sum()), 3),
                    "mean_balanced_margin": round(float(d.mean()), 4),
                    "balanced_flips": int(np.sum(d < 0)),
                    "runner_up_share": round(float(np.mean(ctx.r2[grp] == b)), 4),
                    "mean_margin": round(float(ctx.margin[grp].mean()), 4),
                    "claims": int(claims[a]),
                    "claims_balanced": int(claims_bal[a]),
                    "claims_of_near": int(claims[b]),
                    "claims_balanced_of_near": int(claims_bal[b]),
                    "concepts": [int(ctx.concept_rows[a]), int(ctx.concept_rows[b])],
                },
                "suggestion": _point_set(ctx.concept_rows[b], ctx.image_rows[grp]),
            }
        )
    return out


def text_hubs(ctx: Context) -> list:
    """Texts (captions: the set has no class prompts) read as the best match by far more images than their
    share and than their balanced reading explains: one slice per hub, the images it claims that the balanced
    reading gives to another text."""
    p = ctx.params
    n_img, n_c = len(ctx.image_rows), len(ctx.concept_rows)
    claims = np.bincount(ctx.r1, minlength=n_c)
    claims_bal = np.bincount(ctx.balanced, minlength=n_c)
    expected = n_img / n_c
    pr = pair_ranks(ctx)
    mispaired = None
    if pr is not None:  # paired data: a claimed image is misread when its own caption is outside its top k
        mispaired = np.zeros(n_img, bool)
        mispaired[np.searchsorted(ctx.image_rows, pr[0])] = pr[2] >= pr[4]
    out = []
    for h in np.flatnonzero(claims >= max(p["hub_ratio"] * expected, p["min_size"])):
        grp = np.flatnonzero((ctx.r1 == h) & (ctx.balanced != h))
        if len(grp) < p["min_size"]:
            continue
        runner = np.bincount(ctx.balanced[grp], minlength=n_c).argmax()
        score = float(len(grp)) if mispaired is None else float(mispaired[grp].sum())
        out.append(
            {
                "kind": "hub",
                "name": f"'{_short(ctx.concept_names[h])}' is the best text of {claims[h]} images "
                f"({len(grp)} of them closer to their own)",
                "rows": ctx.image_rows[grp],
                "score": score,
                "evidence": {
                    "mispaired": None if mispaired is None else int(mispaired[grp].sum()),
                    "hub": ctx.concept_names[h],
                    "hub_row": int(ctx.concept_rows[h]),
                    "claims": int(claims[h]),
                    "claims_balanced": int(claims_bal[h]),
                    "expected_claims": round(expected, 2),
                    "most_common_runner_up": ctx.concept_names[runner],
                },
                "suggestion": None,
            }
        )
    return out


# ------------------------------------------------------------------------------------------------ pairs
def pair_table(es) -> tuple:
    """(image rows, text rows) of the true pairs: rows sharing a ``pair`` value, one image and one text."""
    if "pair" not in es.frame:
        return None, None
    pair = es.frame["pair"].to_numpy()
    mod = es.modality
    img = {v: i for i, (v, m) in enumerate(zip(pair, mod)) if m == "image" and v == v and v is not None}
    txt = {v: i for i, (v, m) in enumerate(zip(pair, mod)) if m == "text" and v == v and v is not None}
    keys = [k for k in img if k in txt]
    return np.array([img[k] for k in keys], np.int64), np.array([txt[k] for k in keys], np.int64)


def _partner_rank(q: np.ndarray, keys: np.ndarray, partner: np.ndarray, max_keys: int, rng) -> np.ndarray:
    """Rank of each query's partner among ``keys`` (how many keys are closer), exact over at most ``max_keys``
    keys, else estimated from a random sample of them (scaled to the whole)."""
    n_k = len(keys)
    pool = space.sample_rows(n_k, max_keys, rng)
    kp = keys[pool]
    out = np.empty(len(q), np.float64)
    for s in range(0, len(q), 4096):
        qs = q[s : s + 4096]
        own = np.einsum("ij,ij->i", qs, keys[partner[s : s + 4096]])
        closer = (qs @ kp.T > own[:, None] + 1e-7).sum(1)
        out[s : s + len(qs)] = closer * (n_k / len(pool))
    return out


def pair_ranks(ctx: Context):
    """(image rows, text rows, image->text rank, text->image rank, k) of the set's true pairs, made once;
    None without pairs."""
    if getattr(ctx, "_pairs", None) is None:
        p = ctx.params
        ia, ta = pair_table(ctx.es)
        if ia is None or len(ia) < 2:
            ctx._pairs = False
        else:
            v = ctx.es.vectors
            rng = np.random.default_rng(p["random_state"])
            xi, xt = np.asarray(v[ia], np.float32), np.asarray(v[ta], np.float32)
            k = max(p["pair_k"], int(np.ceil(p["pair_k_share"] * len(ia))))
            own = np.arange(len(ia))
            ctx._pairs = (
                ia,
                ta,
                _partner_rank(xi, xt, own, p["max_fit"], rng),
                _partner_rank(xt, xi, own, p["max_fit"], rng),
                k,
            )
    return ctx._pairs or None


def _caption_read(ctx: Context, ia, ta, bad_idx):
    """The cluster of the caption each mispaired image is read as (its best caption), of about ``cluster_size``
    captions (a slice read as one topic spreads over several of its captions), and its signature: the pair
    (topic of its own caption, topic of the caption it is read as), topics being coarser clusters of about
    ``topic_size`` captions. None above ``max_fit`` captions."""
    p = ctx.params
    if len(ta) > p["max_fit"] or len(bad_idx) == 0:
        return None
    v = ctx.es.vectors
    xt = np.asarray(v[ta], np.float32)
    best, _, _, _ = space.top2(np.asarray(v[ia[bad_idx]], np.float32), xt)
    rng = np.random.default_rng(p["random_state"])
    zt = space.PCA(xt, p["n_components"], p["max_fit"], rng).transform(xt)
    fine, topic = (
        space.kmeans(zt, max(2, int(round(len(ta) / p[size]))), p["max_fit"], p["random_state"])
        for size in ("cluster_size", "topic_size")
    )
    return fine[best], topic[bad_idx] * (int(topic.max()) + 1) + topic[best]


def pairs(ctx: Context) -> list:
    """Pairs whose partner is outside each other's top-k (both directions), grouped by image clusters; a
    cluster is a slice when it holds more such pairs than the set's rate predicts."""
    p = ctx.params
    pr = pair_ranks(ctx)
    if pr is None:
        ctx.notes.append("pair: skipped (no 'pair' column pairing image rows with text rows).")
        return []
    ia, ta, r_it, r_ti, k = pr
    how = p["pair_rule"]
    bad = {"both": (r_it >= k) & (r_ti >= k), "either": (r_it >= k) | (r_ti >= k), "image": r_it >= k}[how]
    rate = float(bad.mean())
    if bad.sum() < p["min_size"]:
        return []
    pos = np.searchsorted(ctx.image_rows, ia)
    flag = np.zeros(len(ctx.image_rows), np.int64)
    flag[pos] = bad
    # p_i: the share of an image's neighbours that are mispaired too (a planted or systematic fault is a
    # neighbourhood of them; chance mispairs are scattered)
    cons, share = space.consensus(ctx.z, flag, 2, p["n_neighbors"], p["max_knn"], p["random_state"])
    local = np.where(cons == 1, share, 1.0 - share)[pos]
    local = np.clip((local - rate) / max(1.0 - rate, 1e-9), 0.0, 1.0)  # beyond the set's own rate
    bad_idx = np.flatnonzero(bad)
    n_groups = max(1, int(round(len(bad_idx) / p["cluster_size"])))
    cl = space.kmeans(ctx.z[pos[bad_idx]], n_groups, p["max_fit"], p["random_state"])
    read, sig = _caption_read(ctx, ia, ta, bad_idx) or (None, None)
    groups = []
    for c in np.unique(cl):
        g = bad_idx[cl == c]
        if read is None:
            groups.append(g)
            continue
        # an image cluster whose mispaired images are read as several caption clusters may hold several
        # faults: its images are grouped by the caption cluster they read, groups with the same signature
        # (own topic -> topic read: pieces of one fault) are joined, and the cluster is split into them when
        # the largest holds less than ``split_share`` of it, else kept whole
        f, sg = read[cl == c], sig[cl == c]
        lab = np.empty(len(g), np.int64)
        for t in np.unique(f):
            vals, counts = np.unique(sg[f == t], return_counts=True)
            lab[f == t] = vals[counts.argmax()]
        parts = [g[lab == u] for u in np.unique(lab)]
        top = max(len(q) for q in parts) / len(g)
        groups += [q for q in parts if len(q) >= p["min_size"]] if top < p["split_share"] else [g]
    if read is not None:
        groups += [bad_idx[read == c] for c in np.unique(read)]
    out = []
    for grp in groups:
        excess = float(local[grp].sum())
        if len(grp) < p["min_size"]:
            continue
        from ..alignment.constraints import SetSet

        out.append(
            {
                "kind": "pair",
                "name": f"{len(grp)} images whose own caption is outside their top {k}"
                + (" (and they outside its)" if how == "both" else ""),
                "rows": ia[grp],  # the images: their reading is what is wrong; the captions are in the suggestion
                "score": float(excess),
                "evidence": {
                    "pairs": int(len(grp)),
                    "neighbours_mispaired": round(float(local[grp].mean()), 4),
                    "mispaired_rate_overall": round(rate, 4),
                    "median_rank_image_to_text": float(np.median(r_it[grp])),
                    "top_k": int(k),
                },
                "suggestion": SetSet(ia[grp], ta[grp], paired=True),
            }
        )
    return out


# ---------------------------------------------------------------------------------------- compositional
_DET = {"a", "an", "the", "one", "two", "some"}
_BREAK = {"and", "with", "next", "to", "of", "on", "in", "at", "near", "beside", "left", "right", "above", "below"}


def word_swap(caption: str) -> str | None:
    """The caption with its first two noun phrases (a determiner and the words after it, up to a preposition
    or conjunction) swapped, or None when it has fewer than two."""
    words = re.findall(r"[\w']+|[^\w\s]", str(caption))
    spans, i = [], 0
    while i < len(words):
        if words[i].lower() in _DET:
            j = i + 1
            while (
                j < len(words)
                and words[j].lower() not in _BREAK
                and words[j].lower() not in _DET
                and words[j].isalnum()
            ):
                j += 1
            if j > i + 1:
                spans.append((i + 1, j))
            i = j
        else:
            i += 1
    if len(spans) < 2:
        return None
    (a0, a1), (b0, b1) = spans[0], spans[1]
    if words[a0:a1] == words[b0:b1]:
        return None
    out = words[:a0] + words[b0:b1] + words[a1:b0] + words[a0:a1] + words[b1:]
    return " ".join(out).replace(" ,", ",").replace(" .", ".")


def compositional(ctx: Context, encoder) -> list:
    """Captions whose word-swapped twin (two noun phrases swapped) scores at least as high against the
    caption's own image (paired rows; the twins embedded by ``encoder``), grouped by image clusters."""
    p = ctx.params
    es = ctx.es
    ia, ta = pair_table(es)
    if ia is None or len(ia) == 0:
        ctx.notes.append("compositional: skipped (needs captions paired with images: a 'pair' column).")
        return []
    items = es.items
    if items is None:
        ctx.notes.append("compositional: skipped (the text rows hold no caption strings as items).")
        return []
    twins = [(j, word_swap(items[t])) if isinstance(items[t], str) else (j, None) for j, t in enumerate(ta)]
    twins = [(j, s) for j, s in twins if s is not None][: p["max_compositional"]]
    if not twins:
        ctx.notes.append("compositional: skipped (no caption has two noun phrases to swap).")
        return []
    j = np.array([j for j, _ in twins], np.int64)
    tv = np.asarray(encoder.encode([s for _, s in twins], "text"), np.float32)
    v = es.vectors
    own = np.einsum("ij,ij->i", v[ia[j]], v[ta[j]])
    swapped = np.einsum("ij,ij->i", v[ia[j]], tv)
    fail = swapped >= own
    cl = ctx.cluster_labels()[np.searchsorted(ctx.image_rows, ia[j])]
    out = []
    for c in np.unique(cl[fail]):
        g = np.flatnonzero((cl == c) & fail)
        if len(g) < p["min_size"]:
            continue
        ex = twins[g[0]][1]
        out.append(
            {
                "kind": "compositional",
                "name": f"{len(g)} captions scored no higher than their word-swapped twin (e.g. '{_short(ex, 50)}')",
                "rows": np.concatenate([ia[j[g]], ta[j[g]]]),
                "score": float(len(g)),
                "evidence": {
                    "captions_tested": int(len(j)),
                    "fail_rate_overall": round(float(fail.mean()), 4),
                    "mean_gap": round(float(np.mean(own[g] - swapped[g])), 4),
                    "twins": [twins[i][1] for i in g[:5]],
                },
                "suggestion": None,
            }
        )
    return out


# ------------------------------------------------------------------------------------------ error slices
def error_slices(ctx: Context, correct: np.ndarray) -> list:
    """Domino-style error slices: a Gaussian mixture over the image vectors' PCA plus the error indicator
    (weighted so the mixture separates errors), each component with more errors than the overall rate
    predicts is a slice of its misread rows."""
    from sklearn.mixture import GaussianMixture

    p = ctx.params
    err = (~correct).astype(np.float32)
    if err.sum() < p["min_size"]:
        return []
    z = ctx.z[:, : min(16, ctx.z.shape[1])]
    z = (z - z.mean(0)) / (z.std(0) + 1e-9)
    feats = np.concatenate([z, p["error_weight"] * err[:, None] * np.sqrt(z.shape[1])], axis=1)
    k = max(2, min(p["error_components"], len(z) // (3 * p["cluster_size"])))
    rng = np.random.default_rng(p["random_state"])
    fit = space.sample_rows(len(feats), p["max_fit"], rng)
    gm = GaussianMixture(k, covariance_type="diag", random_state=p["random_state"], max_iter=100).fit(feats[fit])
    comp = np.concatenate([gm.predict(feats[s : s + 65536]) for s in range(0, len(feats), 65536)])
    rate = float(err.mean())
    out = []
    for c in range(k):
        members = comp == c
        g = np.flatnonzero(members & (err > 0))
        excess = len(g) - rate * members.sum()
        if len(g) < p["min_size"] or excess <= 0:
            continue
        rows = ctx.image_rows[g]
        name = f"{len(g)} misread images in one region of the image space ({members.sum()} images, "
        name += f"{len(g) / members.sum():.0%} wrong)"
        ev = {"component_size": int(members.sum()), "error_rate": round(len(g) / members.sum(), 4)}
        ev["error_rate_overall"] = round(rate, 4)
        if ctx.r1 is not None:
            top = np.bincount(ctx.r1[g], minlength=len(ctx.concept_rows)).argmax()
            ev["most_common_reading"] = ctx.concept_names[top]
        out.append(
            {"kind": "error", "name": name, "rows": rows, "score": float(excess), "evidence": ev, "suggestion": None}
        )
    return out
