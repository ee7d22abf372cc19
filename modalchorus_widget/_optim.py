"""Adam(W) and its learning-rate schedules for the package's fits, without ``torch.optim.Optimizer``.

The first ``torch.optim.Optimizer`` built in a process imports ``torch._dynamo`` (``add_param_group`` is wrapped
by ``torch._disable_dynamo``): about 1.3 s, a fifth of the first map's wait in a fresh kernel. ``Adam.step`` calls
torch's own functional update (``torch.optim.adam.adam``), with the state and arguments ``torch.optim.Adam`` /
``AdamW`` would pass, and the schedules use the formulas of ``OneCycleLR`` (defaults: cosine, momentum cycled) and
``CosineAnnealingLR``, so every fit is the same to the bit as with ``torch.optim`` (``tests/test_optim.py``).
"""

from __future__ import annotations

import math


class Adam:
    """Adam on ``params`` (AdamW with ``decoupled=True``); ``lr`` and ``betas`` may be changed between steps."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
        import torch
        from torch.optim.adam import adam

        self._update = adam
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), tuple(betas), float(eps)
        self.weight_decay, self.decoupled = float(weight_decay), bool(decoupled)
        self._m = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self._v = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self._t = [torch.tensor(0.0, dtype=torch.get_default_dtype()) for _ in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        import torch

        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        with torch.no_grad():
            self._update(
                params, [p.grad for p in params], [self._m[i] for i in live], [self._v[i] for i in live], [],
                [self._t[i] for i in live], foreach=None, capturable=False, differentiable=False, fused=None,
                grad_scale=None, found_inf=None, has_complex=any(torch.is_complex(p) for p in params),
                decoupled_weight_decay=self.decoupled, amsgrad=False, beta1=self.betas[0], beta2=self.betas[1],
                lr=self.lr, weight_decay=self.weight_decay, eps=self.eps, maximize=False,
            )  # fmt: skip


def AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """Adam with decoupled weight decay (``torch.optim.AdamW``'s defaults)."""
    return Adam(params, lr, betas, eps, weight_decay, decoupled=True)


def _cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


class OneCycle:
    """One-cycle schedule of ``opt.lr`` and ``opt.betas[0]`` (``OneCycleLR`` with its defaults otherwise):
    up from ``max_lr / 25`` to ``max_lr`` over ``pct_start`` of the steps, then down to ``max_lr / 25e4``."""

    def __init__(self, opt, max_lr, total_steps, pct_start=0.3, base_momentum=0.85, max_momentum=0.95):
        initial = max_lr / 25.0
        self.opt, self.total, self.t = opt, int(total_steps), 0
        self.phases = (
            (float(pct_start * self.total) - 1, initial, max_lr, max_momentum, base_momentum),
            (self.total - 1, max_lr, initial / 1e4, base_momentum, max_momentum),
        )
        self._set()

    def _set(self):
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
            if self.t <= end or i == len(self.phases) - 1:
                pct = (self.t - start) / (end - start)
                self.opt.lr = _cos(lr0, lr1, pct)
                self.opt.betas = (_cos(m0, m1, pct), *self.opt.betas[1:])
                return
            start = end

    def step(self):
        if self.t >= self.total:
            raise ValueError(f"OneCycle: stepped past its {self.total} steps.")
        self.t += 1
        self._set()


class CosineAnnealing:
    """``opt.lr`` from its start value to 0 along a half cosine over ``T_max`` steps (``CosineAnnealingLR``'s
    recursive form, eta_min 0)."""

    def __init__(self, opt, T_max):
        self.opt, self.T, self.t, self.base = opt, int(T_max), 0, opt.lr

    def step(self):
        self.t += 1
        t, T, lr = self.t, self.T, self.opt.lr
        if (t - 1 - T) % (2 * T) == 0:
            self.opt.lr = lr + self.base * (1 - math.cos(math.pi / T)) / 2
        else:
            self.opt.lr = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * lr
