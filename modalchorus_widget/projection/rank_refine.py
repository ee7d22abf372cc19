"""Rank refinement of a 2-D layout: the nonmetric part of docs/methods.md 1 (L_rank), aimed at the metrics of 2.

t-SNE's loss matches neighbourhood *probabilities*; T_x / C_x score neighbourhood *ranks*: for an anchor of one
modality, which k points of the other modality are nearest in 2-D (trustworthiness: no far intruders) and which
true neighbours are missing (continuity). This module moves the points of a layout by gradient descent on a smooth
version of exactly those penalties (NeRV-like: precision and recall of neighbour retrieval, Venna et al. 2010):

- the rank of j around anchor i is made smooth by a sum of sigmoids over the ``window`` points just nearer and
  just farther than j in 2-D (points farther off in the sorted order count as 0 or 1), with squared distances
  divided by each anchor's k-th neighbour distance (scale-free);
- per cross-modal direction (images over texts, texts over images) and k in ``ks``: the soft indicator "j is
  among the k nearest in 2-D" times (high-D rank - k) for j outside the true k (trustworthiness), and
  (soft 2-D rank - k) for the true k (continuity, weighted by ``continuity``);
- within each modality, the same trustworthiness penalty at k = 10, weighted by ``intra`` and raised while
  that modality's T_i@10 is under ``floor`` (0.90, the guard of docs/methods.md 2).

Cost per step: a sort of the 2-D distances of at most ``batch`` anchors against the other modality, then
gathers of (targets x 2 window) points; intra-modal terms need only a top-k. Memory O(batch * m), never n^2
beyond one batch of anchors.
"""

from __future__ import annotations

import numpy as np

from .._optim import Adam

__all__ = ["refine_layout"]


def _ranks(S):
    """1-based ranks of every column per row, by decreasing similarity (excluded entries: -inf, ranked last)."""
    order = np.argsort(-S, axis=1)  # quicksort: 3x a stable sort; ties between cosines are measure-zero
    R = np.empty(S.shape, dtype=np.int32)
    np.put_along_axis(R, order, np.arange(1, S.shape[1] + 1, dtype=np.int32)[None, :], axis=1)
    return R, order


class _Block:
    """The rank penalties of anchors ``a`` against candidates ``b`` (the same rows when ``same``)."""

    def __init__(self, Xa, Xb, a, b, same, ks, window, continuity, torch):
        S = Xa @ Xb.T
        if same:
            np.fill_diagonal(S, -np.inf)
        self.m = len(b) - int(same)
        self.ks = [int(k) for k in ks if 4 * k <= self.m]  # k nearest of too few candidates: no signal
        R, order = _ranks(S)
        self.kmax = max(self.ks or [1])
        self.R = torch.from_numpy(R)
        self.V = torch.from_numpy(np.ascontiguousarray(order[:, : self.kmax]).astype(np.int64))
        self.a, self.b = torch.from_numpy(a), torch.from_numpy(b)
        self.same, self.continuity, self.h = same, continuity, int(window)
        self.off = torch.cat([torch.arange(-self.h, 0), torch.arange(1, self.h + 1)])

    def loss(self, Y, batch, temperature, gen, torch):
        if not self.ks:
            return Y.sum() * 0.0, Y.sum() * 0.0, 1.0
        na, mb = len(self.a), len(self.b)
        rows = torch.arange(na) if na <= batch else torch.randperm(na, generator=gen)[:batch]
        Ya, Yb = torch.index_select(Y, 0, self.a[rows]), torch.index_select(Y, 0, self.b)
        nb, h, off = len(rows), self.h, self.off
        with torch.no_grad():
            D = torch.cdist(Ya, Yb).pow(2)
            if self.same:
                D[torch.arange(nb), rows] = float("inf")
            last = mb - int(self.same)  # valid sorted positions are 0 .. last - 1
            kt = min(self.kmax + h, last)
            if self.continuity:
                order = torch.from_numpy(np.argsort(D.numpy(), axis=1))  # 5x torch.sort on CPU
                pos = torch.empty_like(order)
                pos.scatter_(1, order, torch.arange(mb).expand(nb, mb).contiguous())
                J = torch.cat([order[:, :kt], self.V[rows]], 1)
                p = pos.gather(1, J)
                fresh = torch.cat([torch.ones(nb, kt, dtype=torch.bool), p[:, kt:] >= kt], 1)  # no double count
            else:
                _, order = D.topk(min(kt + h, last), 1, largest=False)
                J = order[:, :kt]
                p = torch.arange(kt).expand(nb, kt)
                fresh = torch.ones(nb, kt, dtype=torch.bool)
            width = order.shape[1]
            q = p[:, :, None] + off
            ok = (q >= 0) & (q < min(width, last))
            L = order.gather(1, q.clamp(0, width - 1).reshape(nb, -1)).reshape(q.shape)
            sc = D.gather(1, order[:, min(self.kmax, width - 1)].unsqueeze(1)).clamp_min(1e-12)
        idx = torch.cat([J, L.reshape(nb, -1)], 1)
        Yj = torch.index_select(Yb, 0, idx.reshape(-1)).reshape(nb, -1, 2)
        Dn = ((Ya[:, None, :] - Yj) ** 2).sum(-1) / sc
        Dj, Dl = Dn[:, : J.shape[1]], Dn[:, J.shape[1] :].reshape(q.shape)
        soft = (p - h).clamp_min(0).float() + 1.0 + (torch.sigmoid((Dj[:, :, None] - Dl) / temperature) * ok).sum(2)
        R = self.R[rows].gather(1, J).float()
        trust = cont = 0.0
        with torch.no_grad():  # the hard figure at the first k (T_i@10 for the intra-modal blocks), this batch
            k0 = self.ks[0]
            norm0 = 2.0 / (nb * k0 * (2 * self.m - 3 * k0 - 1))
            hard = 1.0 - float(((p < k0) * (R > k0) * (R - k0) * fresh).sum()) * norm0
        for k in self.ks:
            norm = 2.0 / (nb * k * (2 * self.m - 3 * k - 1))
            inside = torch.sigmoid(k + 0.5 - soft)
            trust = trust + (inside * (R > k) * (R - k) * fresh).sum() * norm
            if self.continuity:
                cont = cont + (torch.relu(soft - k) * (R <= k) * fresh).sum() * norm
        return trust / len(self.ks), cont / len(self.ks), hard


def refine_layout(
    Y,
    X,
    groups,
    n_steps=50,
    continuity=6.0,
    intra=0.3,
    ks=(5, 10, 20),
    temperature=0.05,
    window=8,
    learning_rate=0.05,
    batch=512,
    floor=0.90,
    max_intra=3.0,
    seed=0,
):
    """Return the layout Y (n, 2) of unit rows X moved by ``n_steps`` Adam steps on the rank penalties above;
    ``groups`` holds the row indices of the two modalities. Deterministic under ``seed``.

    The intra-modal weight of a modality is a guard, not a constant (a multiplier on the constraint
    T_i >= ``floor``): from the second half of the steps on, while that modality's T_i@10 (hard, on the step's
    anchors) is under ``floor``, its weight grows by 20 % a step, up to ``max_intra``, and it stays there. The
    first half lets the rank term work, which on its own raises T_i on COCO subsets."""
    import torch

    Y = np.asarray(Y, dtype=np.float32)
    if n_steps <= 0:
        return Y.copy()
    X = np.asarray(X, dtype=np.float32)
    a, b = (np.asarray(g, dtype=np.int64) for g in groups)
    cross = [
        _Block(X[a], X[b], a, b, False, ks, window, True, torch),
        _Block(X[b], X[a], b, a, False, ks, window, True, torch),
    ]
    own = [
        _Block(X[a], X[a], a, a, True, (10,), window, False, torch),
        _Block(X[b], X[b], b, b, True, (10,), window, False, torch),
    ]
    weights = [float(intra)] * 2
    gen = torch.Generator().manual_seed(int(seed))
    Yt = torch.tensor(Y, requires_grad=True)
    opt = Adam([Yt], lr=float(learning_rate) * float(np.std(Y)))
    for step in range(int(n_steps)):
        loss = 0.0
        for block in cross:
            t, c, _ = block.loss(Yt, int(batch), float(temperature), gen, torch)
            loss = loss + t + float(continuity) * c
        for i, block in enumerate(own):
            if weights[i] > 0.0:
                t, _, hard = block.loss(Yt, int(batch), float(temperature), gen, torch)
                loss = loss + weights[i] * t
                if step >= n_steps // 2 and hard < float(floor):  # first let the rank term work
                    weights[i] = min(weights[i] * 1.2, float(max_intra))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Yt.detach().numpy().copy()
