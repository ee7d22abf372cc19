"""C-MCR's training loop (``CMCR.fit``): both projectors on the shared pairs, on the estimator's device.

Random draws (the projectors' initialisation, the batches' permutation, the completion noise) come from CPU
generators whatever the device, so a CPU fit gives the same bits on any machine and a GPU fit draws the same
batches and noise (its sums agree with the CPU's to float tolerance).
"""

from __future__ import annotations

import numpy as np

from .._optim import AdamW, CosineAnnealing
from ..threads import torch_threads
from .memory import pseudo_embeddings

REF_DIM = 512  # noise_std is given for 512-d unit vectors and rescaled to other dimensions


def _make_projector(d_in: int, out_dim: int, hidden: int, kind: str):
    import torch.nn as nn

    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_dim),
            nn.BatchNorm1d(out_dim),
        )
    return nn.Sequential(nn.Linear(d_in, out_dim), nn.BatchNorm1d(out_dim))


def _info_nce(z1, z2, tau: float):
    import torch
    import torch.nn.functional as F

    logits = z1 @ z2.T / tau
    target = torch.arange(len(z1), device=z1.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def train_projectors(est, b1, b2, mem1: dict, mem2: dict, device: str = "cpu") -> tuple:
    """(projector 1, projector 2, loss per epoch, pairs) trained with ``est``'s parameters (a ``CMCR``) on the
    shared rows ``b1`` / ``b2`` and the unpaired memories ``mem1`` / ``mem2``, on torch device ``device``; the
    projectors come back on the CPU, in eval mode."""
    import torch
    from tqdm.auto import tqdm

    dev = torch.device(device)
    with torch_threads(max(1, int(est.n_threads))):
        seed = 0 if est.random_state is None else int(est.random_state)
        if est.random_state is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            p1 = _make_projector(b1.shape[1], est.out_dim, est.hidden, est.projector).to(dev)
            p2 = _make_projector(b2.shape[1], est.out_dim, est.hidden, est.projector).to(dev)
        ps1 = {m: pseudo_embeddings(b1, v, est.memory_temperature) for m, v in mem1.items()}
        ps2 = {m: pseudo_embeddings(b2, v, est.memory_temperature) for m, v in mem2.items()}

        def T(a):
            return torch.from_numpy(a).to(dev)

        B1, B2 = T(b1), T(b2)
        P1 = {m: T(v) for m, v in ps1.items()}
        P2 = {m: T(v) for m, v in ps2.items()}
        params = list(p1.parameters()) + list(p2.parameters())
        opt = AdamW(params, lr=est.learning_rate, weight_decay=est.weight_decay)
        n = len(b1)
        bs = min(est.batch_size, n)
        steps_per_epoch = max(1, n // bs)  # drop the ragged tail: BatchNorm and InfoNCE want full batches
        sched = CosineAnnealing(opt, T_max=est.n_epochs * steps_per_epoch)
        noise = float(est.noise_std)

        def enhance(x):
            if noise > 0:  # same relative perturbation in every dimension (see noise_std); drawn on the CPU
                x = x + noise * np.sqrt(REF_DIM / x.shape[1]) * torch.randn(x.shape, generator=gen).to(dev)
            return torch.nn.functional.normalize(x, dim=1)

        def proj(p, x):
            return torch.nn.functional.normalize(p(x), dim=1)

        history = []
        p1.train()
        p2.train()
        bar = tqdm(range(est.n_epochs), desc="C-MCR", disable=not est.verbose, mininterval=1.0)
        for _ in bar:
            perm = torch.randperm(n, generator=gen).to(dev)
            total = 0.0
            for s in range(steps_per_epoch):
                idx = perm[s * bs : (s + 1) * bs]
                z1 = proj(p1, enhance(B1[idx]))
                z2 = proj(p2, enhance(B2[idx]))
                za = [proj(p1, enhance(v[idx])) for v in P1.values()]
                zc = [proj(p2, enhance(v[idx])) for v in P2.values()]
                loss = _info_nce(z1, z2, est.temperature)
                # consistency pairs across spaces: every pseudo (or shared, when a space has no memory)
                left, right = (za or [z1]), (zc or [z2])
                cross = [(a, c) for a in left for c in right if not (a is z1 and c is z2)]
                for a, c in cross:
                    loss = loss + _info_nce(a, c, est.temperature) / len(cross)
                if est.use_intra and est.lam > 0 and (za or zc):
                    intra = sum((1 - (z1 * a).sum(1)).mean() for a in za) + sum(
                        (1 - (z2 * c).sum(1)).mean() for c in zc
                    )
                    loss = loss + est.lam * intra
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach())
            history.append(total / steps_per_epoch)
            bar.set_postfix(loss=f"{history[-1]:.4f}")
        p1.eval()
        p2.eval()
    return p1.cpu(), p2.cpu(), history, n
