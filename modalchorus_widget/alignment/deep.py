"""Deep mode of alignment (docs/methods.md 4): the same losses tune the encoder itself, not an adapter.

When the raw images / texts behind the embeddings and the model that made them are at hand, a round can
change the encoder so that *new* items embed in the aligned space too. Deep mode re-encodes the raw
inputs of the rows a round touches through the model while optimising only the **last block** of each
tuned tower, with the fast-mode objective unchanged (constraint terms + preservation: KL of the reference
rows' similarity distributions and ||z - z0||^2, z0 = the rows' embeddings at the start of the round).
After the round every row of a tuned tower is re-encoded (batched, no grad, tqdm) and becomes the
aligner's new embedding of that row.

What is tuned, and why the whole last block rather than LoRA:

* open_clip (ViT towers, blocks in ``.transformer.resblocks``): every parameter of the last residual
  attention block of the image tower and/or of the text tower. Everything else (earlier blocks,
  embeddings, final norm, projection) stays bit-identical. LoRA on ``nn.Linear`` would miss attention
  altogether: open_clip's block uses ``nn.MultiheadAttention``, which reads ``in_proj_weight`` and
  ``out_proj.weight`` directly instead of calling Linear modules, so a wrapper would only reach the MLP.
  Unfreezing the block also keeps the model's structure untouched (no injected modules left in the
  user's model), and restoring a state is a plain bit-exact copy of a few tensors (no merge/unmerge
  rounding). The price is size: ~7 M parameters (28 MB of safetensors) per round for ViT-B/32's image
  block, which the history keeps per round.
* the embedded models (``encoders.lit.LiTEncoder``: digits and shapes): the last layer of the CNN image
  tower (a 256 -> 384 Linear, ~99 k parameters). Its text tower is the locked MiniLM that *defines* the joint space, so text
  rows keep their vectors.

Speed: the blocks before the tuned one are frozen, so a round runs them once per involved row (a cached
pass that also gives z0) and each optimisation step runs only the last block and the tower's head on the
cached activations. For open_clip this uses the model's own forward with the earlier blocks taken out and
the cached block input put in (a forward pre-hook); it is checked against the full forward on the first
batch and the round falls back to full forwards if they disagree.

Anchors that are not rows of the set (free text embedded by the encoder, vectors, few-shot extras) are
embedded once at the start of the round and held fixed during it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import replace

import numpy as np

from ..errors import AlignmentError
from ..threads import torch_threads
from .fit import Problem, train
from .towers import _LiTImageTower, _OpenCLIPTower, _torch

_CHECK_ROWS = 8  # rows per tuned tower encoded at construction to check raw inputs against the set
_CHECK_MIN_COS = 0.99  # encoder output vs given vector: below this the raw inputs are not those rows'
_CACHE_BATCH = 64


class DeepTuner:
    """The tunable part of an encoder for deep-mode rounds: towers, raw items per row, tuned tensors.

    It owns no copy of the model: the encoder's weights are tuned in place (so ``encoder.encode_images``
    embeds new items in the aligned space), and ``state`` / ``set_state`` / ``to_bytes`` / ``load_bytes``
    save and restore exactly the tuned tensors, bit for bit.
    """

    def __init__(self, encoder, embeddings, images=None, texts=None, towers=None):
        from ..encoders.lit import LiTEncoder
        from ..encoders.open_clip import OpenCLIPEncoder

        es = embeddings
        if encoder is None:
            raise AlignmentError(
                "Aligner(mode='deep') tunes an encoder: pass encoder=OpenCLIPEncoder(...) (the open_clip model that "
                "made the embeddings) or an embedded model (DefaultEncoder, ShapesEncoder), then fit(embeddings, images=..., "
                "texts=...) with the raw inputs of the rows. "
                "Without them use mode='fast' (adapters on frozen embeddings)."
            )
        if isinstance(encoder, OpenCLIPEncoder):
            kind, tunable = "open_clip", ("image", "text")
        elif isinstance(encoder, LiTEncoder):
            kind, tunable = "default", ("image",)
        else:
            raise AlignmentError(
                f"Aligner(mode='deep'): the encoder is a {type(encoder).__name__}, but deep mode can only tune an "
                "open_clip model (modalchorus_widget.encoders.OpenCLIPEncoder) or an embedded model (DefaultEncoder, "
                "ShapesEncoder). Use "
                "mode='fast' with this encoder."
            )
        present = [m for m in tunable if m in es.modalities]
        if towers is None:
            towers = tuple(present)
        else:
            towers = (towers,) if isinstance(towers, str) else tuple(towers)
            for t in towers:
                if t not in tunable:
                    raise AlignmentError(
                        f"Aligner(mode='deep'): towers={towers!r}: the {kind} encoder can tune "
                        f"{list(tunable)} towers only"
                        + (" (its text tower is the locked MiniLM that defines the space)" if kind == "default" else "")
                        + "."
                    )
                if t not in es.modalities:
                    raise AlignmentError(f"Aligner(mode='deep'): towers={towers!r}: the set has no {t} rows.")
            towers = tuple(dict.fromkeys(towers))
        if not towers:
            raise AlignmentError(
                f"Aligner(mode='deep'): the set has no rows of a modality the {kind} encoder can "
                f"tune ({list(tunable)}); its modalities are {list(es.modalities)}."
            )
        raw = {"image": images, "text": texts}
        self.items = {}
        for m in towers:
            self.items[m] = _raw_per_row(es, m, raw[m])
        self.encoder, self.kind = encoder, kind
        try:
            self.towers = {
                m: (_LiTImageTower(encoder) if kind == "default" else _OpenCLIPTower(encoder, m)) for m in towers
            }
        except AlignmentError:
            raise
        except Exception as exc:
            raise AlignmentError(
                f"Aligner(mode='deep'): cannot load the {kind} encoder's model ({type(exc).__name__}: {exc})."
            ) from exc
        self.names = [n for t in self.towers.values() for n in t.names]
        self.params = [p for t in self.towers.values() for p in t.params]
        bad = [n for n, p in zip(self.names, self.params) if p.dtype != _torch().float32]
        if bad:
            raise AlignmentError(
                f"Aligner(mode='deep'): tuned weights must be float32 (got {self.params[0].dtype} "
                f"for {bad[0]}); load the encoder with precision='fp32'."
            )

    # --- raw items --------------------------------------------------------------------------------
    def raw(self, rows, modality):
        return [self.items[modality][r] for r in np.asarray(rows, dtype=np.int64)]

    def check(self, es):
        """Encode a few rows of each tuned tower and compare with the set: catches raw inputs in another
        order, of other items, or an encoder that did not make these embeddings."""
        for m in self.towers:
            rows = np.flatnonzero(es.mask(m))
            pick = rows[np.unique(np.linspace(0, len(rows) - 1, min(_CHECK_ROWS, len(rows))).astype(np.int64))]
            z = self.encode_rows(pick, m, progress=False)
            v = es.vectors[pick]
            cos = np.einsum("ij,ij->i", z, v) / np.maximum(np.linalg.norm(z, axis=1) * np.linalg.norm(v, axis=1), 1e-12)
            worst = int(np.argmin(cos))
            if cos[worst] < _CHECK_MIN_COS:
                raise AlignmentError(
                    f"Aligner(mode='deep'): the raw {m} inputs do not reproduce the embeddings: row {int(pick[worst])} "
                    f"re-encoded by the encoder has cosine {cos[worst]:.3f} with the set's vector (needs >= "
                    f"{_CHECK_MIN_COS}). Pass the raw {m}s in the same order as the set's {m} rows, and the encoder "
                    "(with the weights) that made these embeddings."
                )

    def encode_rows(self, rows, modality, progress=None) -> np.ndarray:
        try:
            out = self.towers[modality].encode(self.raw(rows, modality), progress=progress)
        except (KeyboardInterrupt, AlignmentError):
            raise
        except Exception as exc:
            raise AlignmentError(
                f"Aligner(mode='deep'): the encoder failed on the raw {modality} inputs "
                f"({type(exc).__name__}: {exc}); check images=/texts=."
            ) from exc
        return np.asarray(out, dtype=np.float32)

    # --- tuned tensors ----------------------------------------------------------------------------
    def state(self) -> dict:
        return {n: p.detach().clone() for n, p in zip(self.names, self.params)}

    def set_state(self, state: dict):
        torch = _torch()
        with torch.no_grad():
            for n, p in zip(self.names, self.params):
                p.copy_(state[n])

    def to_bytes(self, state=None) -> bytes:
        from safetensors.torch import save

        state = self.state() if state is None else state
        tensors = {n: t.detach().cpu().contiguous() for n, t in state.items()}
        meta = {"mode": "deep", "encoder": self.kind, "towers": json.dumps(list(self.towers))}
        return save(tensors, metadata=meta)

    def from_bytes(self, blob: bytes, where="deep weights") -> dict:
        from safetensors.torch import load

        try:
            tensors = load(blob)
        except Exception as exc:
            raise AlignmentError(f"{where}: cannot read the tuned tensors ({type(exc).__name__}: {exc}).") from exc
        if sorted(tensors) != sorted(self.names):
            raise AlignmentError(
                f"{where}: the saved tuned tensors ({len(tensors)}, e.g. {sorted(tensors)[:1]}) are "
                f"not this encoder's ({len(self.names)}, e.g. {sorted(self.names)[:1]}); load with "
                "the same model and towers=."
            )
        for n, p in zip(self.names, self.params):
            if tuple(tensors[n].shape) != tuple(p.shape):
                raise AlignmentError(
                    f"{where}: tensor {n} has shape {tuple(tensors[n].shape)}, the encoder's "
                    f"{tuple(p.shape)}; it is from another model."
                )
        return {n: tensors[n].to(p.device) for n, p in zip(self.names, self.params)}

    def load_bytes(self, blob: bytes, where="deep weights"):
        self.set_state(self.from_bytes(blob, where))

    @property
    def n_params(self) -> int:
        return int(sum(p.numel() for p in self.params))

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for n, p in sorted(zip(self.names, self.params), key=lambda t: t[0]):
            h.update(n.encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    @contextlib.contextmanager
    def training(self):
        """Gradients on for the tuned tensors only, every module in eval mode; flags restored after."""
        roots = {id(t.root): t.root for t in self.towers.values()}
        saved = [(p, p.requires_grad) for r in roots.values() for p in r.parameters()]
        modes = [(m, m.training) for r in roots.values() for m in r.modules()]
        try:
            for p, _ in saved:
                p.requires_grad_(False)
            for m, _ in modes:
                m.eval()
            for p in self.params:
                p.requires_grad_(True)
            yield
        finally:
            for p, flag in saved:
                p.requires_grad_(flag)
                p.grad = None
            for m, flag in modes:
                m.train(flag)


def _raw_per_row(es, modality, given):
    """Object array of length n: the raw item of each row of ``modality`` (None elsewhere)."""
    rows = np.flatnonzero(es.mask(modality))
    arg = "images" if modality == "image" else "texts"
    if given is None:
        items = es.items
        if items is not None and all(items[r] is not None for r in rows) and _usable(items[rows], modality):
            given = items[rows]
        else:
            raise AlignmentError(
                f"Aligner(mode='deep') re-encodes the raw inputs, but none were given for the {len(rows)} {modality} "
                f"rows: pass aligner.fit(embeddings, {arg}=[...]) (one per {modality} row, in row order, or one per row of the set), or a set "
                f"whose items hold the raw {modality}s. Without raw inputs use mode='fast'."
            )
    if isinstance(given, (str, bytes)):
        raise AlignmentError(
            f"Aligner(mode='deep'): {arg} must be a sequence of raw {modality}s, got one {type(given).__name__}."
        )
    seq = given if isinstance(given, np.ndarray) and given.dtype != object and given.ndim >= 2 else list(given)
    out = np.empty(es.n, dtype=object)
    if len(seq) == len(rows):
        for r, it in zip(rows, seq):
            out[r] = it
    elif len(seq) == es.n:
        for r in rows:
            out[r] = seq[r]
    else:
        raise AlignmentError(
            f"Aligner(mode='deep'): {arg} has {len(seq)} items, but the set has {len(rows)} {modality} rows "
            f"(and {es.n} rows in all); give one raw {modality} per {modality} row in row order, or one per row."
        )
    missing = [int(r) for r in rows if out[r] is None]
    if missing:
        raise AlignmentError(
            f"Aligner(mode='deep'): {arg} has no raw {modality} for row {missing[0]} ({len(missing)} missing)."
        )
    return out


def _usable(items, modality):
    if modality == "text":
        return all(isinstance(x, str) for x in items)
    return not any(isinstance(x, str) and not x for x in items)


# ---------------------------------------------------------------------------- one round
class DeepModel:
    """What ``fit.train`` optimises in deep mode: the tuned tensors (``parameters``, ``state_dict``)."""

    def __init__(self, tuner: DeepTuner):
        self.tuner = tuner

    def parameters(self):
        return list(self.tuner.params)

    def state_dict(self):
        return dict(zip(self.tuner.names, self.tuner.params))

    def load_state_dict(self, state):
        self.tuner.set_state(state)

    def __contains__(self, modality):  # few-shot extras are held fixed (no vector-to-vector map in deep mode)
        return False


class DeepProblem(Problem):
    """Fast mode's objective with rows of tuned towers embedded by the model instead of an adapter."""

    def _embed(self, adapters, modality, rows, v):
        slot = self.slots.get(modality)
        if slot is None:
            return v  # an untuned tower: its rows stay as they are
        return self.tuner.towers[modality].forward(self.caches[modality], np.searchsorted(slot, rows))


def fit_deep_round(tuner: DeepTuner, vectors, modality, resolved, ref_rows, params, progress=None):
    """Tune the encoder in place for one round; returns info (steps, curve, losses, timings).

    The caller snapshots ``tuner.state()`` first and restores it on any exception.
    """
    import time

    torch = _torch()
    mod = np.asarray(modality).astype(str)
    touched = np.unique(np.concatenate([r.rows() for r in resolved]))
    if not np.isin(mod[touched], list(tuner.towers)).any():
        raise AlignmentError(
            f"Aligner.step (deep mode): the constraints touch only {sorted(set(mod[touched]))} rows, but deep mode "
            f"tunes the {list(tuner.towers)} tower(s); select rows of a tuned modality, or use mode='fast'."
        )
    rng = np.random.default_rng(params.seed)
    V = np.array(vectors, dtype=np.float32, copy=True)
    problem = DeepProblem(V, mod, resolved, ref_rows, params, rng)
    # every row any objective call can touch: constraint rows, anchors, candidate and key pools, reference
    need = [problem.ref] + [r.rows() for r in resolved] + list(problem.cands.values()) + list(problem.keys.values())
    need = np.unique(np.concatenate(need).astype(np.int64))
    info = {"steps": params.steps, "validation_curve": None, "stopped": None}
    with torch_threads():
        t0 = time.perf_counter()
        problem.tuner, problem.slots, problem.caches = tuner, {}, {}
        for m, tower in tuner.towers.items():
            rows = need[mod[need] == m]
            if not len(rows):
                continue
            z0, cache = tower.prepare(tuner.raw(rows, m), progress)
            V[rows] = z0  # the start of the round is the encoder's own output for these rows
            problem.slots[m], problem.caches[m] = rows, cache
        info["seconds_cache"] = round(time.perf_counter() - t0, 4)
        info["cached_rows"] = int(sum(len(s) for s in problem.slots.values()))
        model = DeepModel(tuner)
        start = tuner.state()
        constraint_only = _constraint_only(problem, params)
        with tuner.training():
            with torch.no_grad():
                info["constraint_loss_before"] = round(float(constraint_only.objective(model)), 6)
            t1 = time.perf_counter()
            if params.validation > 0:
                parts = problem.split(np.random.default_rng(params.seed + 1), params.validation)
                if parts is not None:
                    _, best, curve = train(
                        parts[0],
                        params,
                        params.steps,
                        params.seed,
                        val=parts[1],
                        keep_best=not params.refit,
                        model=model,
                        info=info,
                    )
                    info.update(steps=int(best), validation_curve=[(int(i), round(v, 5)) for i, v in curve])
                    if params.refit:
                        tuner.set_state(start)
                        train(problem, params, info["steps"], params.seed, model=model)
                else:
                    info["steps"] = int(train(problem, params, info["steps"], params.seed, model=model, info=info)[1])
            else:
                info["steps"] = int(train(problem, params, info["steps"], params.seed, model=model, info=info)[1])
            info["seconds_train"] = round(time.perf_counter() - t1, 4)
            if info["steps"] == 0:
                tuner.set_state(start)  # no gain: the round is the identity, weights bit-exact
            with torch.no_grad():
                info["constraint_loss_after"] = round(float(constraint_only.objective(model)), 6)
    return info


def _constraint_only(problem, params):
    """The same problem with the preservation terms off: the constraint loss on all constraint rows."""
    p = object.__new__(type(problem))
    p.__dict__.update(problem.__dict__)
    p.p = replace(params, preserve_kl=0.0, preserve_l2=0.0)
    return p


# ---------------------------------------------------------------------------- strength (WiSE-FT)
# A deep round is applied at a strength alpha by interpolating the tuned tensors (WiSE-FT, Wortsman et al. 2022):
# theta(alpha) = (1 - alpha) theta_before + alpha theta_after, then re-encoding the tuned towers' rows. A round's
# weights are theta_after (the full round); the encoder holds theta(alpha). Each alpha the guard scores costs one
# re-encode, so the guard reads the full round first (already encoded: no extra cost when it is within the
# tolerance) and otherwise bisects a grid of eighths (3 more re-encodes).
DEEP_ALPHAS = tuple(i / 8 for i in range(9))  # the guard's grid (twentieths) coarsened to eighths


def mix_state(before: dict, after: dict, alpha: float) -> dict:
    """theta(alpha) = (1 - alpha) before + alpha after, tensor by tensor (copies; the exact tensors at 0 and 1)."""
    alpha = float(alpha)
    if alpha in (0.0, 1.0):
        return {k: t.detach().clone() for k, t in (before if alpha == 0.0 else after).items()}
    return {k: (1.0 - alpha) * before[k] + alpha * after[k] for k in before}


def weights_after(tuner: DeepTuner, original: bytes, rounds) -> bytes:
    """The tuned tensors (safetensors bytes) after ``rounds`` (Round objects, in order), each at its alpha."""
    blob, state = original, None
    for r in rounds:
        if r.alpha == 1.0:
            blob, state = r.weights, None
        elif r.alpha != 0.0:
            prev = tuner.from_bytes(blob, "deep weights") if state is None else state
            state, blob = mix_state(prev, tuner.from_bytes(r.weights, "deep weights"), r.alpha), None
    return blob if state is None else tuner.to_bytes(state)


def reencode(tuner: DeepTuner, es, before) -> np.ndarray:
    """``before`` with every row of a tuned tower re-encoded by the encoder as it is now."""
    after = np.array(before, dtype=np.float32, copy=True)
    for m in tuner.towers:
        rows = np.flatnonzero(es.mask(m))
        after[rows] = tuner.encode_rows(rows, m)
    if not np.isfinite(after).all():
        raise AlignmentError(
            "Aligner.step: the round produced non-finite vectors; nothing was changed. Lower lr or the "
            "constraint weights."
        )
    return after


def vectors_at(tuner: DeepTuner, es, before, theta_b: dict, theta_a: dict, alpha: float, full=None) -> np.ndarray:
    """The set's vectors with the encoder at theta(alpha) (the encoder is left there): ``before`` bit for bit at
    alpha 0, ``full`` (the round's own re-encode, when given) at alpha 1, a re-encode in between."""
    tuner.set_state(mix_state(theta_b, theta_a, alpha))
    if alpha == 0.0:
        return np.array(before, copy=True)
    if alpha == 1.0 and full is not None:
        return full
    return reencode(tuner, es, before)


def _score(spec, es, before, v, resolved, selected):
    """The guard's figures of one state ``v`` against ``before``: run_guard with the two ends only, its exact
    read at the end taken whatever the tolerance (worst regression, target share, the result)."""
    from .guard import run_guard

    res = run_guard(spec.reading((0.0, 1.0)), es, before, v, resolved, selected)
    return res.curve["worst_regression"][1], res.curve["target"], res


def guard_deep(guard, tuner: DeepTuner, es, before, full, resolved, selected, theta_b: dict, theta_a: dict):
    """The guard of a deep round: ``(vectors at alpha, alpha, the report's guard entry or None)``; the encoder is
    left at theta(alpha). The largest alpha of the grid whose measured worst regression is within the tolerance
    (the full round when it is; else bisection over ``DEEP_ALPHAS``, assuming the regression grows with alpha:
    whatever it picks was measured within the tolerance); with ``pick="best_target"`` (the default), of the alphas
    it measured within the tolerance, the one whose target is best (each costs a re-encode: no more are read)."""
    import time

    from .guard import ALPHAS, check_guard

    spec = check_guard(guard, es.n)
    if spec is None:
        tuner.set_state(theta_a)
        return full, 1.0, None
    if spec.set is not None:
        raise AlignmentError(
            "Aligner(mode='deep'): a guard set= needs a map of its vectors through the round, which deep mode "
            "has not (it tunes the encoder); pass guard='auto', dict(tolerance=..., on=rows, labels=...) or None."
        )
    t0 = time.perf_counter()
    grid = list(DEEP_ALPHAS if tuple(spec.alphas) == ALPHAS else spec.alphas)
    scored, reencodes = {}, 0

    def score(i):
        nonlocal reencodes
        a = float(grid[i])
        if a not in scored:
            reencodes += 0.0 < a < 1.0
            v = vectors_at(tuner, es, before, theta_b, theta_a, a, full)
            scored[a] = (*_score(spec, es, before, v, resolved, selected), v)
        return scored[a][0] <= spec.tolerance + 1e-12

    lo, hi = 0, len(grid) - 1
    score(lo)
    if score(hi):
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if score(mid) else (lo, mid)
    tried = sorted(scored)  # the bisection's pick grid[lo] is the largest of them within the tolerance
    ok = [i for i, a in enumerate(tried) if scored[a][0] <= spec.tolerance + 1e-12]
    alpha = float(tried[spec.choose(ok, [scored[a][1][1] for a in tried])])
    tuner.set_state(mix_state(theta_b, theta_a, alpha))
    entry = scored[alpha][2].to_report()
    entry["curve"] = {
        "alpha": tried,
        "target": [scored[a][1][1] for a in tried],
        "worst_regression": [round(float(scored[a][0]), 6) for a in tried],
    }
    entry.update(wise_ft=True, reencodes=int(reencodes), seconds=round(time.perf_counter() - t0, 4))
    return scored[alpha][3], alpha, entry


def _resolved_on(al, state, constraints):
    """The constraints resolved on ``state`` (the state a round started from)."""
    current = al.embeddings_
    try:
        al.embeddings_ = state
        return [c.resolve(al) for c in constraints]
    finally:
        al.embeddings_ = current


def deep_restrength(al, alpha: float):
    """``Aligner.set_strength`` in deep mode: the encoder to theta(alpha) of the last round, its rows re-encoded,
    the round's report at ``alpha``. On any exception the encoder and the history stay as they were."""
    from .guard import check_alpha, check_guard
    from .report import round_report

    alpha = check_alpha(alpha, "Aligner.set_strength")
    rnd, prev, tuner, k = al.history_[-1], al._states[-2], al.tuner_, len(al.history_)
    current = tuner.state()
    try:
        theta_b = tuner.from_bytes(al._deep_weights_at(k - 1), "Aligner.set_strength")
        theta_a = tuner.from_bytes(rnd.weights, "Aligner.set_strength")
        after = vectors_at(tuner, prev, prev.vectors, theta_b, theta_a, alpha)
        resolved = _resolved_on(al, prev, rnd.constraints)
        selected = np.unique(np.concatenate([r.rows() for r in resolved]))
        old = rnd.report
        info = {k: old.get(k) for k in ("steps", "stopped", "validation_curve")}
        rep = round_report(prev, prev.vectors, after, resolved, None, selected, info)
        rep = {**{k: v for k, v in old.items() if k not in rep}, **rep, "alpha": alpha, "alpha_set_by": "user"}
        spec = check_guard(al.guard, prev.n)
        if spec is not None and spec.set is None and "guard" in old:
            fresh = _score(spec, prev, prev.vectors, after, resolved, selected)[2].to_report()
            rep["guard"] = {
                **old["guard"],
                **{k: fresh[k] for k in ("regressions", "changed_outside", "changed_outside_n")},
            }
        new = replace(rnd, report=rep, alpha=alpha, _owner=al)
        state = prev.with_vectors(after, normalize=False)
    except BaseException:
        tuner.set_state(current)
        raise
    al.history_, al._states = al.history_[:-1] + [new], al._states[:-1] + [state]
    al._redo, al.embeddings_ = [], state
    return new


def deep_preview(al, alpha: float) -> np.ndarray:
    """``Aligner.preview_strength`` in deep mode: the last round's vectors at ``alpha`` (a re-encode of the tuned
    towers' rows with theta(alpha); the last few alphas are kept), the encoder left as it was."""
    from .guard import check_alpha

    alpha = check_alpha(alpha, "Aligner.preview_strength")
    rnd, prev, tuner, k = al.history_[-1], al._states[-2], al.tuner_, len(al.history_)
    cache = getattr(al, "_deep_preview", None)
    if cache is None or cache[0] is not rnd.weights or cache[1] is not prev:
        cache = al._deep_preview = (rnd.weights, prev, {})
    if alpha == rnd.alpha:
        return np.array(al.embeddings_.vectors, copy=True)
    if alpha not in cache[2]:
        current = tuner.state()
        try:
            theta_b = tuner.from_bytes(al._deep_weights_at(k - 1), "Aligner.preview_strength")
            theta_a = tuner.from_bytes(rnd.weights, "Aligner.preview_strength")
            cache[2][alpha] = vectors_at(tuner, prev, prev.vectors, theta_b, theta_a, alpha)
        finally:
            tuner.set_state(current)
        while len(cache[2]) > 8:
            cache[2].pop(next(iter(cache[2])))
    return np.array(cache[2][alpha], copy=True)
