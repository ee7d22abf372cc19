"""Fitting one round of fast-mode alignment: per-modality residual adapters on frozen embeddings.

The objective is sum_c w_c L_c + preserve_kl * KL + preserve_l2 * ||g(e) - e||^2 (see ``losses``).
Each step works on a mini-batch of constraint rows and of unselected reference rows against fixed
pools of candidate concepts and keys, so a step costs O(batch * pool * d) whatever n is.

Early stopping (a choice beyond docs/methods.md that measured better): with ``validation > 0`` a slice of
every constraint's rows and of the reference rows is held out and the full objective on that slice picks
the step (stopping after ``patience`` evaluations without gain). By default the best checkpoint is kept
(``refit=False``: one pass, what keeps a round on 10,000 points interactive); ``refit=True`` refits on all
rows for that many steps (about twice the time; on COCO-500 retrieval t2i R@1 0.695 instead of 0.675).
On COCO-500 retrieval a fixed step count either under-fits or over-fits 300 pairs; the slice finds the knee.

Stopping when satisfied (also beyond docs/methods.md, on by default): a round of point-set constraints ends at the
first evaluation where they hold on every row (pull: the anchor is each member's best candidate; push: each
member sits ``margin`` below its start cosine). Further steps only fit the selected rows more specifically; on
the zero-shot protocol, cross-validated on the training split, that generalised worse (scripts/zero_shot_cv.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._optim import Adam
from ..threads import torch_threads
from . import losses
from .adapter import make_adapters


@dataclass
class FitParams:
    hidden: int = 64
    steps: int = 150
    lr: float = 2e-4
    temperature: float = 0.01
    margin: float = 0.1
    preserve_kl: float = 5.0
    preserve_l2: float = 10.0
    kl_temperature: float = 0.01
    n_reference: int = 256
    n_candidates: int = 256
    batch_size: int = 128
    validation: float = 0.2
    eval_every: int = 5
    patience: int = 6
    refit: bool = False
    stop_when_satisfied: bool = True
    seed: int = 0


# The settings a mode resolves ``"auto"`` to (``Aligner``). Anchor mode tunes a few vectors, not an adapter: every
# step runs (there is no generalisation across rows for a held-out slice to guard), at a larger step, a sharper
# pull and a looser hold on the anchors' own change. Chosen by leave-one-case-out cross-validation over fourteen
# anchor rounds of the embedded worlds, training side only (scripts/anchor_cv.py: every fold picks these).
MODE_DEFAULTS = {
    "fast": {
        "learning_rate": 2e-4,
        "temperature": 0.01,
        "preserve_l2": 10.0,
        "validation": 0.2,
        "stop_when_satisfied": True,
    },
    "anchors": {
        "learning_rate": 1e-3,
        "temperature": 0.003,
        "preserve_l2": 1.0,
        "validation": 0.0,
        "stop_when_satisfied": False,
    },
}
MODE_DEFAULTS["deep"] = MODE_DEFAULTS["fast"]


def _sample(rng, rows, k):
    rows = np.asarray(rows, dtype=np.int64)
    return rows if len(rows) <= k else np.sort(rng.choice(rows, size=k, replace=False))


class Problem:
    """The arrays one round optimises over: constraints, candidate pools, reference and key rows."""

    def __init__(self, vectors, modality, resolved, ref_rows, params: FitParams, rng):
        self.V = vectors
        self.mod = np.asarray(modality).astype(str)
        self.resolved = resolved
        self.p = params
        self.modalities = sorted(set(self.mod))
        self.ref = np.asarray(ref_rows, dtype=np.int64)
        # candidate concepts per anchor modality (fixed pool), keys per query modality (fixed pool)
        self.cands = {}
        for r in resolved:
            if r.kind == "point-set" and r.direction == "pull" and r.anchor_modality not in self.cands:
                rows = np.flatnonzero(self.mod == r.anchor_modality)
                self.cands[r.anchor_modality] = _sample(rng, rows, params.n_candidates)
        self.keys = {}
        for q in self.modalities:
            other = np.flatnonzero(self.mod != q) if len(self.modalities) > 1 else np.flatnonzero(self.mod == q)
            self.keys[q] = _sample(rng, other, params.n_candidates)

    # ------------------------------------------------------------------ views
    def split(self, rng, fraction):
        """(train, val) Problems holding out ``fraction`` of each constraint's rows and of the reference rows,
        or None when the sets are too small to hold anything out."""
        tr_res, va_res = [], []
        for r in self.resolved:
            if r.kind == "point-set":
                parts = _split_rows(rng, r.members, fraction)
                if parts is None:
                    return None
                tr_res.append(replace(r, members=parts[0]))
                va_res.append(replace(r, members=parts[1], members_extra=None, members_extra_mod=None))
            elif r.paired:
                parts = _split_rows(rng, np.arange(len(r.a)), fraction)
                if parts is None:
                    return None
                tr_res.append(replace(r, a=r.a[parts[0]], b=r.b[parts[0]]))
                va_res.append(replace(r, a=r.a[parts[1]], b=r.b[parts[1]]))
            else:
                pa, pb = _split_rows(rng, r.a, fraction), _split_rows(rng, r.b, fraction)
                if pa is None or pb is None:
                    return None
                tr_res.append(replace(r, a=pa[0], b=pb[0]))
                va_res.append(
                    replace(r, a=pa[1], b=pb[1], a_extra=None, a_extra_mod=None, b_extra=None, b_extra_mod=None)
                )
        ref = _split_rows(rng, self.ref, fraction) if len(self.ref) else (self.ref, self.ref)
        if ref is None:
            ref = (self.ref, self.ref)
        out = []
        for res, rr in ((tr_res, ref[0]), (va_res, ref[1])):
            p = object.__new__(type(self))
            p.__dict__.update(self.__dict__)
            p.resolved, p.ref = res, rr
            out.append(p)
        return tuple(out)

    # ------------------------------------------------------------------ objective
    def _embed(self, adapters, modality, rows, v):
        """Adapted vectors of ``rows`` (all of ``modality``; ``v`` their start-of-round vectors). Deep mode
        overrides this to re-encode the rows' raw inputs through the encoder being tuned."""
        return adapters[modality](v)

    def objective(self, adapters, rng=None):
        """Total loss; with ``rng`` a random mini-batch of constraint and reference rows, else all of them."""
        import torch

        p = self.p
        pick = (lambda rows: _sample(rng, rows, p.batch_size)) if rng is not None else (lambda rows: rows)
        batches = []
        for r in self.resolved:
            if r.kind == "point-set":
                batches.append((pick(r.members),))
            elif r.paired:
                sel = pick(np.arange(len(r.a)))
                batches.append((r.a[sel], r.b[sel]))
            else:
                batches.append((pick(r.a), pick(r.b)))
        ref = pick(self.ref)
        need = [ref] + [np.concatenate(b) for b in batches] + list(self.cands.values())
        if len(ref):
            need += [self.keys[m] for m in set(self.mod[ref])]
        need += [np.array([r.anchor_row]) for r in self.resolved if r.anchor_row is not None]
        rows = np.unique(np.concatenate(need).astype(np.int64))
        v, z, at = self._adapted(adapters, rows)
        adapt_extra = self._extra(adapters)

        total = torch.zeros(())
        for r, b in zip(self.resolved, batches):
            if r.kind == "point-set":
                zm, mm, za = self._pointset(r, b[0], z, at, adapt_extra)
                if len(zm) == 0:
                    continue
                same = torch.from_numpy(mm == r.anchor_modality)
                if r.direction == "pull":
                    loss = losses.pointset_pull(zm, same, za, z[at(self._candidates(r))], p.temperature)
                else:
                    v0m = torch.from_numpy(self.V[b[0]])
                    if r.members_extra is not None:
                        v0m = torch.cat([v0m, torch.from_numpy(r.members_extra)])
                    cos0 = v0m @ torch.from_numpy(r.anchor)
                    loss = losses.pointset_push(zm, za, cos0, p.margin)
            else:
                za, zb = z[at(b[0])], z[at(b[1])]
                if r.a_extra is not None:
                    za = torch.cat([za, adapt_extra(r.a_extra, r.a_extra_mod)])
                if r.b_extra is not None:
                    zb = torch.cat([zb, adapt_extra(r.b_extra, r.b_extra_mod)])
                if len(za) == 0 or len(zb) == 0:
                    continue
                if r.direction == "pull":
                    loss = losses.setset_pull(za, zb, r.paired, p.temperature)
                else:
                    ca = _unit(np.concatenate([self.V[b[0]]] + ([r.a_extra] if r.a_extra is not None else [])).mean(0))
                    cb = _unit(np.concatenate([self.V[b[1]]] + ([r.b_extra] if r.b_extra is not None else [])).mean(0))
                    loss = losses.setset_push(za, zb, float(ca @ cb), p.margin)
            total = total + r.weight * loss
        if len(ref):
            zr, vr = z[at(ref)], v[at(ref)]
            total = total + p.preserve_l2 * ((zr - vr) ** 2).sum(1).mean()
            if p.preserve_kl:
                kl = []
                for q in sorted(set(self.mod[ref])):
                    sel = torch.from_numpy(np.flatnonzero(self.mod[ref] == q))
                    kk = at(self.keys[q])
                    kl.append(losses.preservation_kl(vr[sel], v[kk], zr[sel], z[kk], p.kl_temperature))
                total = total + p.preserve_kl * sum(kl) / len(kl)
        return total

    def _adapted(self, adapters, rows):
        """(start vectors, adapted vectors, row -> position) of the sorted unique ``rows``."""
        import torch

        v = torch.from_numpy(np.ascontiguousarray(self.V[rows]))
        rmod = self.mod[rows]
        parts = []
        for m in self.modalities:
            sel = np.flatnonzero(rmod == m)
            if len(sel):
                parts.append((torch.from_numpy(sel), self._embed(adapters, m, rows[sel], v[sel])))
        idx = torch.cat([s for s, _ in parts])
        z = torch.zeros_like(v).index_add(0, idx, torch.cat([out for _, out in parts]))
        return v, z, (lambda r: torch.from_numpy(np.searchsorted(rows, r)))

    @staticmethod
    def _extra(adapters):
        """Adapt vectors that are not rows of the set (few-shot extras, free anchors), by their modality."""
        import torch

        def adapt_extra(vec, mods):
            out = torch.from_numpy(vec)
            res = []
            for m in sorted(set(mods)):
                sel = np.flatnonzero(mods == m)
                g = adapters[m] if m in adapters else (lambda x: x)
                res.append((torch.from_numpy(sel), g(out[sel])))
            return torch.zeros_like(out).index_add(0, torch.cat([s for s, _ in res]), torch.cat([o for _, o in res]))

        return adapt_extra

    def _pointset(self, r, members, z, at, adapt_extra):
        """(adapted members incl. extras, their modalities, adapted anchor) of a point-set constraint."""
        import torch

        zm, mm = z[at(members)], self.mod[members]
        if r.members_extra is not None:
            zm = torch.cat([zm, adapt_extra(r.members_extra, r.members_extra_mod)])
            mm = np.concatenate([mm, r.members_extra_mod.astype(str)])
        if r.anchor_row is not None:
            za = z[at(np.array([r.anchor_row]))][0]
        else:
            za = adapt_extra(r.anchor[None], np.array([r.anchor_modality]))[0]
        return zm, mm, za

    def _candidates(self, r):
        cand = self.cands[r.anchor_modality]
        return cand[cand != (r.anchor_row if r.anchor_row is not None else -1)]

    def satisfied(self, adapters) -> bool:
        """Whether every constraint already holds on all its rows: a point-set pull's anchor is the best match
        among the candidate concepts of each cross-modal member (docs/methods.md 4), a push's members sit at least
        ``margin`` below their start-of-round cosine. False when a constraint has no such test (set-set, or a
        pull with only same-modality members): those rounds run on the validation objective alone."""
        import torch

        if not self.resolved or any(r.kind != "point-set" for r in self.resolved):
            return False
        need = [
            np.concatenate([r.members] + ([np.array([r.anchor_row])] if r.anchor_row is not None else []))
            for r in self.resolved
        ]
        need += [self._candidates(r) for r in self.resolved if r.direction == "pull"]
        rows = np.unique(np.concatenate(need).astype(np.int64))
        with torch.no_grad():
            _, z, at = self._adapted(adapters, rows)
            adapt_extra = self._extra(adapters)
            for r in self.resolved:
                zm, mm, za = self._pointset(r, r.members, z, at, adapt_extra)
                if r.direction == "pull":
                    cross = torch.from_numpy(mm != r.anchor_modality)
                    if not bool(cross.any()):
                        return False
                    zc = zm[cross]
                    cand = self._candidates(r)
                    best_other = (zc @ z[at(cand)].T).max(1).values if len(cand) else torch.full((len(zc),), -2.0)
                    if not bool((zc @ za > best_other).all()):
                        return False
                else:
                    v0 = self.V[r.members]
                    if r.members_extra is not None:
                        v0 = np.concatenate([v0, r.members_extra])
                    cos0 = torch.from_numpy(v0 @ r.anchor)
                    if not bool((zm @ za <= cos0 - self.p.margin).all()):
                        return False
        return True


def stratified(rng, rows, modality, k):
    """Up to k rows, the same share of each modality as in ``rows`` (at least one each where possible)."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) <= k:
        return rows
    mods = np.asarray(modality)[rows]
    out = []
    for m in sorted(set(mods)):
        sel = rows[mods == m]
        take = max(1, int(round(k * len(sel) / len(rows))))
        out.append(rng.choice(sel, size=min(take, len(sel)), replace=False))
    return np.sort(np.concatenate(out))


def _unit(x):
    return x / max(np.linalg.norm(x), 1e-12)


def _split_rows(rng, rows, fraction):
    rows = np.asarray(rows)
    n_val = int(round(fraction * len(rows)))
    if n_val < 2 or len(rows) - n_val < 2:
        return None
    perm = rng.permutation(len(rows))
    return np.sort(rows[perm[n_val:]]), np.sort(rows[perm[:n_val]])


def train(
    problem: Problem,
    params: FitParams,
    steps: int,
    seed: int,
    val: Problem | None = None,
    keep_best: bool = False,
    model=None,
    info: dict | None = None,
):
    """Adam on fresh identity adapters (or on ``model``'s parameters, tuned in place: deep mode); returns
    (adapters, best_step, curve) (best_step by ``val`` if given, stopping once ``patience`` evaluations in a
    row brought no improvement). With ``stop_when_satisfied`` the run ends, keeping the current weights, at
    the first evaluation where every constraint holds on all rows of ``problem`` and ``val``. ``info`` (a dict)
    gets ``stopped``: "satisfied", "validation" (the held-out slice stopped gaining) or "steps"."""
    import torch

    adapters = make_adapters(problem.modalities, problem.V.shape[1], params.hidden, seed) if model is None else model
    opt = Adam(adapters.parameters(), lr=params.lr)
    rng = np.random.default_rng(seed)
    curve, best, best_state, satisfied_at, reason = [], (float("inf"), 0), None, None, "steps"
    for i in range(steps + 1):
        if (
            params.stop_when_satisfied
            and i % params.eval_every == 0
            and problem.satisfied(adapters)
            and (val is None or val.satisfied(adapters))
        ):
            satisfied_at = i  # the constraints hold on every row: more steps would only fit these rows harder
            break
        if val is not None and i % params.eval_every == 0:
            with torch.no_grad():
                vl = float(val.objective(adapters))
            curve.append((i, vl))
            if vl < best[0] - 1e-6:
                best = (vl, i)
                if keep_best:
                    best_state = {k: t.detach().clone() for k, t in adapters.state_dict().items()}
            elif params.patience and i - best[1] >= params.patience * params.eval_every:
                reason = "validation"
                break  # no gain on the held-out slice for a while: the knee has passed
        if i == steps:
            break
        loss = problem.objective(adapters, rng)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"alignment loss became {float(loss.detach())} at step {i}; lower lr or the weights."
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
    if info is not None:
        info["stopped"] = (
            "satisfied"
            if satisfied_at is not None
            else ("validation" if val is not None and (reason == "validation" or best[1] < i) else reason)
        )
    if satisfied_at is not None:
        return adapters, satisfied_at, curve
    if keep_best and best_state is not None:
        adapters.load_state_dict(best_state)
    return adapters, (best[1] if val is not None else steps), curve


def fit_round(vectors, modality, resolved, ref_rows, params: FitParams):
    """Fit one round; returns (adapters, info) where info records steps and the validation curve."""
    problem = Problem(vectors, modality, resolved, ref_rows, params, np.random.default_rng(params.seed))
    return fit_problem(problem, params)


def fit_problem(problem: Problem, params: FitParams, make_model=lambda: None):
    """Train on ``problem``: with ``validation``, on a split whose held-out slice picks the step (the best
    checkpoint kept, or a refit on all rows with ``refit``), else for ``params.steps``. ``make_model()`` gives a
    fresh model to tune (None: identity adapters, fast mode). Returns (model, info)."""
    info = {"steps": params.steps, "validation_curve": None, "stopped": None}
    with torch_threads():
        model = None
        if params.validation > 0:
            parts = problem.split(np.random.default_rng(params.seed + 1), params.validation)
            if parts is not None:
                kept, best, curve = train(
                    parts[0], params, params.steps, params.seed, val=parts[1], keep_best=not params.refit,
                    model=make_model(), info=info,
                )  # fmt: skip
                info.update(steps=int(best), validation_curve=[(int(i), round(v, 5)) for i, v in curve])
                if not params.refit:  # the best checkpoint of the held-out run: half the time of a refit
                    model = kept
        if model is None:
            model, ran, _ = train(
                problem, params, info["steps"], params.seed, model=make_model(),
                info=info if info.get("stopped") is None else None,
            )  # fmt: skip
            info["steps"] = int(ran)
    return model, info
