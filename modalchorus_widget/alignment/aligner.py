"""Aligner: rounds of alignment on an EmbeddingSet, with history, undo/redo and atomic save/load.

Each ``step(*constraints)`` fits a fresh near-identity adapter per modality on the *current* vectors
(rounds compose: round k adapts the output of round k-1), records the constraints, the adapter weights
(safetensors bytes) and before/after figures, and only then swaps the new state in. Anything that goes
wrong before that swap (bad constraint, NaN, KeyboardInterrupt) leaves the aligner exactly as it was.
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..embeddings import EmbeddingSet, atomic_write_bytes
from .adapter import adapters_from_bytes, adapters_to_bytes, apply_adapter
from .constraints import AlignmentError, Constraint, Resolved, constraint_from_dict
from .fit import FitParams, fit_round

FORMAT = "modalchorus-aligner"
FORMAT_VERSION = 1


@dataclass
class Round:
    """One alignment round: what was asked, what it cost, what it changed, and the adapter that did it."""

    index: int
    constraints: list
    report: dict
    seconds: float
    weights: bytes = field(repr=False)
    _adapters: object = field(default=None, repr=False, compare=False)

    @property
    def is_identity(self) -> bool:
        """True when the round kept zero steps (no gain on the held-out slice): vectors stay bit-identical."""
        return self.report.get("steps") == 0

    @property
    def adapters(self):
        if self._adapters is None:
            self._adapters = adapters_from_bytes(self.weights)
        return self._adapters


class Aligner:
    """Fix what a user selected, round by round, without silently breaking the rest.

    Parameters
    ----------
    embeddings : EmbeddingSet to align (rows keep their order; only vectors change).
    encoder : optional; embeds text anchors and few-shot items (``encode_text`` / ``encode_image``).
    mode : ``"fast"`` (frozen encoder, residual adapters; the default and the only mode implemented).
    hidden, steps, lr, temperature, margin, preserve_kl, preserve_l2, kl_temperature, n_reference,
    n_candidates, batch_size, validation, eval_every, patience : see :class:`~.fit.FitParams`.
    refit : after the held-out slice picked the step count, refit on all rows (True) or keep the best
        checkpoint of the held-out run (False: about half the time).
    random_state : seed; the same inputs give bit-identical rounds.
    """

    def __init__(self, embeddings, encoder=None, mode="fast", hidden=64, steps=150, lr=2e-4, temperature=0.01,
                 margin=0.1, preserve_kl=5.0, preserve_l2=10.0, kl_temperature=0.01, n_reference=256,
                 n_candidates=256, batch_size=128, validation=0.2, eval_every=5, patience=6, refit=False,
                 random_state=0):
        if not isinstance(embeddings, EmbeddingSet):
            raise TypeError(f"Aligner: embeddings must be an EmbeddingSet, got {type(embeddings).__name__}; "
                            "wrap arrays with EmbeddingSet(vectors, modality=...).")
        if mode != "fast":
            raise NotImplementedError(f"Aligner: mode={mode!r} is not available; use mode='fast' (frozen encoder, "
                                      "residual adapters). Deep mode (tuning the encoder) is not implemented yet.")
        self.embeddings = embeddings
        self.encoder = encoder
        self.mode = mode
        self.hidden, self.steps, self.lr, self.temperature, self.margin = hidden, steps, lr, temperature, margin
        self.preserve_kl, self.preserve_l2, self.kl_temperature = preserve_kl, preserve_l2, kl_temperature
        self.n_reference, self.n_candidates, self.batch_size = n_reference, n_candidates, batch_size
        self.validation, self.eval_every, self.patience, self.random_state = validation, eval_every, patience, random_state
        self.refit = refit
        self._params()  # validate now, not at the first step
        self.embeddings_ = embeddings
        self.history_ = []
        self._states = [embeddings]
        self._redo = []

    # ----------------------------------------------------------------- params
    def get_params(self) -> dict:
        names = ("mode", "hidden", "steps", "lr", "temperature", "margin", "preserve_kl", "preserve_l2",
                 "kl_temperature", "n_reference", "n_candidates", "batch_size", "validation", "eval_every",
                 "patience", "refit", "random_state")
        return {k: getattr(self, k) for k in names}

    def _params(self, round_index=0) -> FitParams:
        for name in ("hidden", "n_reference", "n_candidates", "batch_size", "eval_every"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise AlignmentError(f"Aligner: {name} must be a positive integer, got {v!r}.")
        if not isinstance(self.patience, (int, np.integer)) or self.patience < 0:
            raise AlignmentError(f"Aligner: patience must be a non-negative integer (0 = never stop early), got {self.patience!r}.")
        if not isinstance(self.steps, (int, np.integer)) or self.steps < 0:
            raise AlignmentError(f"Aligner: steps must be a non-negative integer, got {self.steps!r}.")
        for name in ("lr", "temperature", "kl_temperature", "margin"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                raise AlignmentError(f"Aligner: {name} must be a positive number, got {v!r}.")
        for name in ("preserve_kl", "preserve_l2"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v >= 0):
                raise AlignmentError(f"Aligner: {name} must be a non-negative number, got {v!r}.")
        if not 0 <= self.validation < 1:
            raise AlignmentError(f"Aligner: validation must be a fraction in [0, 1), got {self.validation!r}.")
        seed = 0 if self.random_state is None else int(self.random_state)
        return FitParams(hidden=int(self.hidden), steps=int(self.steps), lr=float(self.lr),
                         temperature=float(self.temperature), margin=float(self.margin),
                         preserve_kl=float(self.preserve_kl), preserve_l2=float(self.preserve_l2),
                         kl_temperature=float(self.kl_temperature), n_reference=int(self.n_reference),
                         n_candidates=int(self.n_candidates), batch_size=int(self.batch_size),
                         validation=float(self.validation), eval_every=int(self.eval_every),
                         patience=int(self.patience), refit=bool(self.refit),
                         seed=seed + 1000 * round_index)

    # ----------------------------------------------------------------- rounds
    def step(self, *constraints) -> Round:
        """Run one round with the given constraints; returns its :class:`Round` (also appended to history_)."""
        t0 = time.perf_counter()
        flat = []
        for c in constraints:
            flat.extend(c if isinstance(c, (list, tuple)) else [c])
        if not flat:
            raise AlignmentError("Aligner.step: no constraints given; pass PointSet(...) and/or SetSet(...).")
        for c in flat:
            if not isinstance(c, Constraint):
                raise TypeError(f"Aligner.step: expected PointSet or SetSet, got {type(c).__name__}.")
        es = self.embeddings_
        resolved = [c.resolve(self) for c in flat]
        params = self._params(len(self.history_))
        selected = np.unique(np.concatenate([r.rows() for r in resolved]))
        unselected = np.setdiff1d(np.arange(es.n), selected)
        if len(unselected) == 0:  # nothing left to preserve but closeness to the start (the KL would undo the pull)
            params = replace(params, preserve_kl=0.0)
        rng = np.random.default_rng(params.seed)
        ref = _stratified(rng, unselected if len(unselected) else np.arange(es.n), es.modality, params.n_reference)
        before = es.vectors
        adapters, info = fit_round(before, es.modality, resolved, ref, params)
        after = np.array(before, copy=True)
        for m in adapters.keys() if info["steps"] > 0 else ():
            rows = es.mask(m)
            after[rows] = apply_adapter(adapters, before[rows], m)
        if not np.isfinite(after).all():
            raise AlignmentError("Aligner.step: the round produced non-finite vectors; nothing was changed. "
                                 "Lower lr or the constraint weights.")
        new_es = es.with_vectors(after, normalize=False)
        report = self._report(es, before, after, resolved, adapters, selected, info)
        rnd = Round(len(self.history_), flat, report, 0.0, adapters_to_bytes(adapters), adapters)
        rnd.seconds = report["seconds"] = round(time.perf_counter() - t0, 4)
        # commit: build the new containers first, then swap them in together
        history, states = self.history_ + [rnd], self._states + [new_es]
        self.history_, self._states, self._redo, self.embeddings_ = history, states, [], new_es
        return rnd

    def transform(self, vectors, modality: str) -> np.ndarray:
        """Map vectors of ``modality`` from the original space through every active round (L2-normalised)."""
        v = np.asarray(vectors, dtype=np.float32)
        single = v.ndim == 1
        v = v[None] if single else v
        if v.ndim != 2 or v.shape[1] != self.embeddings.dim:
            raise AlignmentError(f"Aligner.transform: expected (n, {self.embeddings.dim}) vectors, got {np.shape(vectors)}.")
        if not np.isfinite(v).all():
            raise AlignmentError("Aligner.transform: vectors contain NaN or inf; drop or re-encode them.")
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        if (norms < 1e-12).any():
            raise AlignmentError("Aligner.transform: zero vectors have no direction; drop them.")
        v = (v / norms).astype(np.float32)
        for rnd in self.history_:
            if not rnd.is_identity:
                v = apply_adapter(rnd.adapters, v, modality)
        return v[0] if single else v

    def undo(self) -> Round:
        """Step back one round (bit-exact earlier state); returns the round undone."""
        if not self.history_:
            raise AlignmentError("Aligner.undo: nothing to undo (no rounds in the history).")
        rnd = self.history_[-1]
        history, states, redo = self.history_[:-1], self._states[:-1], self._redo + [(rnd, self._states[-1])]
        self.history_, self._states, self._redo, self.embeddings_ = history, states, redo, states[-1]
        return rnd

    def redo(self) -> Round:
        """Re-apply the last undone round; returns it."""
        if not self._redo:
            raise AlignmentError("Aligner.redo: nothing to redo (no undone rounds since the last step).")
        rnd, state = self._redo[-1]
        history, states, redo = self.history_ + [rnd], self._states + [state], self._redo[:-1]
        self.history_, self._states, self._redo, self.embeddings_ = history, states, redo, state
        return rnd

    # ----------------------------------------------------------------- figures
    def _report(self, es, before, after, resolved, adapters, selected, info) -> dict:
        unsel = np.ones(es.n, dtype=bool)
        unsel[selected] = False
        moved = 1.0 - np.einsum("ij,ij->i", before, after)
        rep = {"steps": info["steps"], "validation_curve": info["validation_curve"],
               "n_selected": int(len(selected)),
               "moved_selected_mean": _f(moved[~unsel].mean()) if (~unsel).any() else 0.0,
               "moved_unselected_mean": _f(moved[unsel].mean()) if unsel.any() else 0.0,
               "moved_unselected_max": _f(moved[unsel].max()) if unsel.any() else 0.0}
        rep["constraints"] = [dict(constraint=c_desc, before=_constraint_figures(r, before, es, r.anchor),
                                   after=_constraint_figures(r, after, es, _adapted_anchor(r, adapters, after)))
                              for c_desc, r in zip([self._describe(r) for r in resolved], resolved)]
        if "text" in es.modalities and len(es.modalities) > 1:
            from ..evaluation import zero_shot_predict

            q = np.flatnonzero(~es.mask("text"))
            t = np.flatnonzero(es.mask("text"))
            p0 = zero_shot_predict(before[q], before[t], batch_size=2048)
            p1 = zero_shot_predict(after[q], after[t], batch_size=2048)
            changed = p0 != p1
            rep["predictions_changed_unselected"] = int((changed & unsel[q]).sum())
            rep["predictions_changed_selected"] = int((changed & ~unsel[q]).sum())
            labels = es.labels
            if labels is not None:
                lt = labels[t]
                ok = np.array([x is not None and x == x for x in labels[q]])
                if ok.any() and any(x is not None for x in lt):
                    rep["zero_shot_acc_before"] = _f(np.mean(lt[p0[ok]] == labels[q][ok]))
                    rep["zero_shot_acc_after"] = _f(np.mean(lt[p1[ok]] == labels[q][ok]))
        return rep

    @staticmethod
    def _describe(r: Resolved) -> str:
        if r.kind == "point-set":
            where = f"row {r.anchor_row}" if r.anchor_row is not None else f"a {r.anchor_modality} vector"
            return f"point-set {r.direction}: {len(r.members)} members -> anchor {where}"
        return f"set-set {r.direction}: {len(r.a)} vs {len(r.b)}{' (paired)' if r.paired else ''}"

    # ----------------------------------------------------------------- persistence
    def save(self, path) -> Path:
        """One zip file (atomic): original embeddings, parameters, rounds (constraints, figures, safetensors)."""
        path = Path(path)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("embeddings.npz", _embeddings_bytes(self.embeddings))
            rounds = [(r, "active") for r in self.history_] + [(r, "redo") for r, _ in self._redo]
            meta = {"format": FORMAT, "version": FORMAT_VERSION, "params": self.get_params(), "rounds": []}
            for k, (r, status) in enumerate(rounds):
                name = f"round_{k:03d}.safetensors"
                z.writestr(name, r.weights)
                meta["rounds"].append({"status": status, "index": r.index, "weights": name, "seconds": r.seconds,
                                       "report": r.report, "constraints": [c.to_dict() for c in r.constraints]})
            z.writestr("aligner.json", json.dumps(meta, default=_json_default))
        atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path, encoder=None) -> "Aligner":
        """Rebuild an Aligner written by :meth:`save`; states are recomputed from the saved adapters."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no aligner file at {path}; write one with Aligner.save(path).")
        try:
            with zipfile.ZipFile(path) as z:
                meta = json.loads(z.read("aligner.json"))
                emb = z.read("embeddings.npz")
                blobs = {r["weights"]: z.read(r["weights"]) for r in meta["rounds"]}
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise AlignmentError(f"{path} is not a readable Aligner file ({exc}).") from exc
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise AlignmentError(f"{path}: not an Aligner file of version {FORMAT_VERSION} "
                                 f"(format {meta.get('format')!r}, version {meta.get('version')!r}).")
        es = _embeddings_from_bytes(emb)
        out = cls(es, encoder=encoder, **meta["params"])
        redo = []
        for r in meta["rounds"]:
            rnd = Round(r["index"], [constraint_from_dict(c) for c in r["constraints"]], r["report"], r["seconds"],
                        blobs[r["weights"]])
            prev = out._states[-1] if r["status"] == "active" else (redo[-1][1] if redo else out._states[-1])
            after = np.array(prev.vectors, copy=True)
            for m in rnd.adapters.keys() if not rnd.is_identity else ():
                rows = prev.mask(m)
                after[rows] = apply_adapter(rnd.adapters, prev.vectors[rows], m)
            state = prev.with_vectors(after, normalize=False)
            if r["status"] == "active":
                out.history_.append(rnd)
                out._states.append(state)
            else:
                redo.append((rnd, state))
        out._redo = redo[::-1]
        out.embeddings_ = out._states[-1]
        return out

    def __repr__(self) -> str:
        return f"Aligner({self.embeddings!r}, rounds={len(self.history_)}, mode={self.mode!r})"


# ---------------------------------------------------------------------------- helpers
def _f(x) -> float:
    return round(float(x), 6)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in an Aligner file")


def _stratified(rng, rows, modality, k):
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


def _adapted_anchor(r: Resolved, adapters, after):
    if r.kind != "point-set":
        return None
    if r.anchor_row is not None:
        return after[r.anchor_row]
    return apply_adapter(adapters, r.anchor[None], r.anchor_modality)[0]


def _constraint_figures(r: Resolved, vecs, es, anchor) -> dict:
    """Per-constraint figures: how well it holds on these vectors (members only, extras excluded)."""
    if r.kind == "point-set":
        m = r.members
        if len(m) == 0:
            return {}
        cos = vecs[m] @ anchor
        out = {"anchor_cos": _f(cos.mean())}
        cross = m[es.modality[m] != r.anchor_modality]
        if len(cross):
            cand = np.flatnonzero(es.mask(r.anchor_modality))
            if r.anchor_row is not None:
                cand = cand[cand != r.anchor_row]
            best_other = (vecs[cross] @ vecs[cand].T).max(axis=1) if len(cand) else np.full(len(cross), -np.inf)
            out["anchor_top1"] = _f(np.mean(vecs[cross] @ anchor > best_other))
        return out
    ca, cb = vecs[r.a].mean(0), vecs[r.b].mean(0)
    out = {"centroid_cos": _f(ca @ cb / max(np.linalg.norm(ca) * np.linalg.norm(cb), 1e-12))}
    if r.paired:
        from ..evaluation import recall_at_k
        out["pair_r1"] = _f(recall_at_k(vecs[r.a], vecs[r.b], 1))
    return out


def _embeddings_bytes(es: EmbeddingSet) -> bytes:
    return es.to_bytes()


def _embeddings_from_bytes(blob: bytes) -> EmbeddingSet:
    return EmbeddingSet.from_bytes(blob)
