"""Aligner: rounds of alignment on an EmbeddingSet, with history, undo/redo and atomic save/load.

Each ``step(*constraints)`` fits a fresh near-identity adapter per modality on the *current* vectors
(rounds compose: round k adapts the output of round k-1), records the constraints, the adapter weights
(safetensors bytes) and before/after figures, and only then swaps the new state in. Anything that goes
wrong before that swap (bad constraint, NaN, KeyboardInterrupt) leaves the aligner exactly as it was.

``mode="deep"`` (see ``deep.py``) tunes the last block of the encoder instead, on the raw inputs of the
rows; a round's weights are then the tuned encoder tensors, and undo/redo/load put them back in the
encoder bit for bit. ``mode="anchors"`` (see ``anchors.py``) tunes only the anchor rows of point-set
constraints (e.g. the class prompts of a zero-shot classifier); a round's weights are those rows' new vectors.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from .._params import renamed_params
from ..data.embeddings import EmbeddingSet
from ..data.io import atomic_write_bytes
from ..encoders.base import check_encoder
from ..errors import AlignmentError, InputTypeError, MissingFileError, UntrustedFileError
from .adapter import adapters_from_bytes, adapters_to_bytes, apply_adapter
from .anchors import anchors_to_bytes, apply_anchor_round, fit_anchor_round
from .constraints import Constraint, constraint_from_dict
from .fit import FitParams, fit_round, stratified
from .report import round_report

MODES = ("fast", "deep", "anchors")
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
    mode: str = "fast"

    @property
    def is_identity(self) -> bool:
        """True when the round kept zero steps (no gain on the held-out slice): vectors stay bit-identical."""
        return self.report.get("steps") == 0

    @property
    def adapters(self):
        if self.mode != "fast":
            raise AlignmentError(
                f"a {self.mode}-mode round has no adapters: its weights are the tuned "
                f"{'encoder tensors' if self.mode == 'deep' else 'anchor vectors'} (Round.tensors)."
            )
        if self._adapters is None:
            self._adapters = adapters_from_bytes(self.weights)
        return self._adapters

    @property
    def tensors(self) -> dict:
        """The tensors stored in ``weights`` by name (adapter weights, or the tuned encoder tensors in deep mode)."""
        from safetensors.torch import load

        return load(self.weights)


class Aligner(BaseEstimator):
    """Fix what a user selected, round by round, without silently breaking the rest.

    Parameters
    ----------
    embeddings : EmbeddingSet to align (rows keep their order; only vectors change).
    encoder : optional in fast mode; embeds text anchors and few-shot items (``encode_text`` / ``encode_image``).
        Required in deep mode: an ``OpenCLIPEncoder`` (ViT towers) or an embedded model (``DefaultEncoder``,
        ``ShapesEncoder``), the model that made ``embeddings``; its weights are tuned **in place** (undo / redo restore them).
    mode : ``"fast"`` (the default: frozen encoder, residual adapters on the embeddings), ``"deep"`` (tune
        the last block of the encoder's towers on the raw inputs; ``alignment/deep.py``) or ``"anchors"`` (tune
        only the anchor rows of point-set constraints, e.g. class prompts; ``alignment/anchors.py``).
    images, texts : deep mode only: the raw inputs, one per image / text row in row order (or one per row
        of the set). Default: the set's ``items`` of those rows, when every one of them is there.
    towers : deep mode only: which towers to tune, ``"image"`` and/or ``"text"`` (default: every tower the
        encoder can tune that the set has rows of; the default model's text tower is locked).
    hidden, steps, lr, temperature, margin, preserve_kl, preserve_l2, kl_temperature, n_reference,
    n_candidates, batch_size, validation, eval_every, patience : see :class:`~.fit.FitParams` (``hidden``
        is unused in deep and anchor modes).
    refit : after the held-out slice picked the step count, refit on all rows (True) or keep the best
        checkpoint of the held-out run (False: about half the time).
    stop_when_satisfied : end a round of point-set constraints as soon as they hold on every selected row
        (each pulled member's best-matching candidate is the anchor; each pushed member sits ``margin`` below
        its start cosine): the smallest change that does what was asked. Chosen by cross-validation on the
        training split (``scripts/zero_shot_cv.py``); set-set rounds are unaffected.
    random_state : seed; the same inputs give bit-identical rounds.
    """

    def __init__(
        self,
        embeddings,
        encoder=None,
        mode="fast",
        hidden=64,
        n_steps=150,
        learning_rate=2e-4,
        temperature=0.01,
        margin=0.1,
        preserve_kl=5.0,
        preserve_l2=10.0,
        kl_temperature=0.01,
        n_reference=256,
        n_candidates=256,
        batch_size=128,
        validation=0.2,
        eval_every=5,
        patience=6,
        refit=False,
        stop_when_satisfied=True,
        random_state=0,
        images=None,
        texts=None,
        towers=None,
        **deprecated,
    ):
        n_steps, learning_rate = renamed_params("Aligner", deprecated, n_steps=n_steps, learning_rate=learning_rate)
        if not isinstance(embeddings, EmbeddingSet):
            raise InputTypeError(
                f"Aligner: embeddings must be an EmbeddingSet, got {type(embeddings).__name__}; "
                "wrap arrays with EmbeddingSet(vectors, modality=...)."
            )
        if mode not in MODES:
            raise AlignmentError(
                f"Aligner: mode must be 'fast' (adapters on frozen embeddings, the default), 'deep' (tune the "
                f"encoder's last block on raw inputs) or 'anchors' (tune only the point-set anchors), got {mode!r}."
            )
        if mode != "deep" and (images is not None or texts is not None or towers is not None):
            raise AlignmentError(
                "Aligner: images=, texts= and towers= are for mode='deep' (tuning the encoder); "
                f"{mode} mode works on the embeddings alone."
            )
        self.embeddings = embeddings
        self.encoder = check_encoder(encoder, "Aligner(encoder=...)")
        self.images, self.texts, self.towers = images, texts, towers
        self.mode = mode
        self.hidden, self.n_steps, self.learning_rate = hidden, n_steps, learning_rate
        self.temperature, self.margin = temperature, margin
        self.preserve_kl, self.preserve_l2, self.kl_temperature = preserve_kl, preserve_l2, kl_temperature
        self.n_reference, self.n_candidates, self.batch_size = n_reference, n_candidates, batch_size
        self.validation, self.eval_every, self.patience, self.random_state = (
            validation,
            eval_every,
            patience,
            random_state,
        )
        self.refit, self.stop_when_satisfied = refit, stop_when_satisfied
        self._params()  # validate now, not at the first step
        self._tuner = None
        if mode == "deep":
            from .deep import DeepTuner

            tuner = DeepTuner(encoder, embeddings, images=images, texts=texts, towers=towers)
            tuner.check(embeddings)
            self._tuner = tuner
            self.towers = tuple(tuner.towers)
            self._deep_original = tuner.to_bytes()  # the tuned tensors before any round: undo's last stop
        self.embeddings_ = embeddings
        self.history_ = []
        self._states = [embeddings]
        self._redo = []

    # ----------------------------------------------------------------- params
    _FILE_PARAMS = tuple(
        "mode hidden n_steps learning_rate temperature margin preserve_kl preserve_l2 kl_temperature "
        "n_reference n_candidates batch_size validation eval_every patience refit stop_when_satisfied random_state".split()
    )

    def _file_params(self) -> dict:
        """The parameters an Aligner file stores (everything but the data and the encoder)."""
        out = {k: getattr(self, k) for k in self._FILE_PARAMS}
        if self.mode == "deep":
            out["towers"] = list(self.towers)
        return out

    def _params(self, round_index=0) -> FitParams:
        for name in ("hidden", "n_reference", "n_candidates", "batch_size", "eval_every"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise AlignmentError(f"Aligner: {name} must be a positive integer, got {v!r}.")
        if not isinstance(self.patience, (int, np.integer)) or self.patience < 0:
            raise AlignmentError(
                f"Aligner: patience must be a non-negative integer (0 = never stop early), got {self.patience!r}."
            )
        if not isinstance(self.n_steps, (int, np.integer)) or self.n_steps < 0:
            raise AlignmentError(f"Aligner: n_steps must be a non-negative integer, got {self.n_steps!r}.")
        for name in ("learning_rate", "temperature", "kl_temperature", "margin"):
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
        return FitParams(
            hidden=int(self.hidden),
            steps=int(self.n_steps),
            lr=float(self.learning_rate),
            temperature=float(self.temperature),
            margin=float(self.margin),
            preserve_kl=float(self.preserve_kl),
            preserve_l2=float(self.preserve_l2),
            kl_temperature=float(self.kl_temperature),
            n_reference=int(self.n_reference),
            n_candidates=int(self.n_candidates),
            batch_size=int(self.batch_size),
            validation=float(self.validation),
            eval_every=int(self.eval_every),
            patience=int(self.patience),
            refit=bool(self.refit),
            stop_when_satisfied=bool(self.stop_when_satisfied),
            seed=seed + 1000 * round_index,
        )

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
                raise InputTypeError(f"Aligner.step: expected PointSet or SetSet, got {type(c).__name__}.")
        es = self.embeddings_
        resolved = [c.resolve(self) for c in flat]
        params = self._params(len(self.history_))
        selected = np.unique(np.concatenate([r.rows() for r in resolved]))
        unselected = np.setdiff1d(np.arange(es.n), selected)
        if len(unselected) == 0:  # nothing left to preserve but closeness to the start (the KL would undo the pull)
            params = replace(params, preserve_kl=0.0)
        rng = np.random.default_rng(params.seed)
        ref = stratified(rng, unselected if len(unselected) else np.arange(es.n), es.modality, params.n_reference)
        if self.mode == "deep":
            return self._step_deep(flat, resolved, params, selected, ref, t0)
        before = es.vectors
        if self.mode == "anchors":
            rows, new, info = fit_anchor_round(before, es.modality, resolved, ref, params)
            weights, adapters = anchors_to_bytes(rows, new), None
        else:
            adapters, info = fit_round(before, es.modality, resolved, ref, params)
            weights = adapters_to_bytes(adapters)
        after = _after(es, self.mode, weights, adapters, info["steps"] == 0)
        if not np.isfinite(after).all():
            raise AlignmentError(
                "Aligner.step: the round produced non-finite vectors; nothing was changed. "
                "Lower lr or the constraint weights."
            )
        new_es = es.with_vectors(after, normalize=False)
        report = round_report(es, before, after, resolved, adapters, selected, info)
        rnd = Round(len(self.history_), flat, report, 0.0, weights, adapters, mode=self.mode)
        rnd.seconds = report["seconds"] = round(time.perf_counter() - t0, 4)
        # commit: build the new containers first, then swap them in together
        history, states = self.history_ + [rnd], self._states + [new_es]
        self.history_, self._states, self._redo, self.embeddings_ = history, states, [], new_es
        return rnd

    def _step_deep(self, flat, resolved, params, selected, ref, t0) -> Round:
        """One deep round: tune the encoder in place, re-encode the tuned towers' rows, then commit; on any
        exception (KeyboardInterrupt, NaN loss, encoder error) the tuned tensors go back bit for bit."""
        from .deep import fit_deep_round

        tuner, es = self._tuner, self.embeddings_
        start = tuner.state()
        try:
            info = fit_deep_round(tuner, es.vectors, es.modality, resolved, ref, params)
            before = es.vectors
            after = np.array(before, copy=True)
            t_enc = time.perf_counter()
            if info["steps"] > 0:
                for m in tuner.towers:
                    rows = np.flatnonzero(es.mask(m))
                    after[rows] = tuner.encode_rows(rows, m)
            info["seconds_reencode"] = round(time.perf_counter() - t_enc, 4)
            if not np.isfinite(after).all():
                raise AlignmentError(
                    "Aligner.step: the round produced non-finite vectors; nothing was changed. "
                    "Lower lr or the constraint weights."
                )
            new_es = es.with_vectors(after, normalize=False)
            report = round_report(es, before, after, resolved, None, selected, info)
            report.update(
                mode="deep",
                towers=list(tuner.towers),
                tuned_parameters=tuner.n_params,
                **{
                    k: info[k]
                    for k in (
                        "constraint_loss_before",
                        "constraint_loss_after",
                        "cached_rows",
                        "seconds_cache",
                        "seconds_train",
                        "seconds_reencode",
                    )
                },
            )
            rnd = Round(len(self.history_), flat, report, 0.0, tuner.to_bytes(), None, mode="deep")
        except BaseException:
            tuner.set_state(start)
            raise
        rnd.seconds = report["seconds"] = round(time.perf_counter() - t0, 4)
        history, states = self.history_ + [rnd], self._states + [new_es]
        self.history_, self._states, self._redo, self.embeddings_ = history, states, [], new_es
        return rnd

    def _deep_weights_at(self, k: int) -> bytes:
        """The tuned tensors after the first k active rounds (k = 0: the encoder's original ones)."""
        return self.history_[k - 1].weights if k > 0 else self._deep_original

    def transform(self, vectors, modality: str) -> np.ndarray:
        """Map vectors of ``modality`` from the original space through every active round (L2-normalised).

        Deep and anchor modes have no vector-to-vector map (the encoder itself was tuned, or only the anchor
        rows moved): there this only checks and normalises (deep: re-encode raw items with ``aligner.encoder``)."""
        v = np.asarray(vectors, dtype=np.float32)
        single = v.ndim == 1
        v = v[None] if single else v
        if v.ndim != 2 or v.shape[1] != self.embeddings.dim:
            raise AlignmentError(
                f"Aligner.transform: expected (n, {self.embeddings.dim}) vectors, got {np.shape(vectors)}."
            )
        if not np.isfinite(v).all():
            raise AlignmentError("Aligner.transform: vectors contain NaN or inf; drop or re-encode them.")
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        if (norms < 1e-12).any():
            raise AlignmentError("Aligner.transform: zero vectors have no direction; drop them.")
        v = (v / norms).astype(np.float32)
        if self.mode != "fast":
            return v[0] if single else v
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
        if self.mode == "deep":  # the encoder's tuned tensors go back to those after the previous round
            self._tuner.load_bytes(self._deep_weights_at(len(history)), "Aligner.undo")
        self.history_, self._states, self._redo, self.embeddings_ = history, states, redo, states[-1]
        return rnd

    undone_ = property(lambda self: [r for r, _ in self._redo], doc="Rounds undone, not redone; redo() takes the last.")

    def checkpoint(self):
        """An opaque token of the history as it is now, for ``rollback`` (e.g. when a caller fails after ``step``)."""
        return (list(self.history_), list(self._states), list(self._redo), self.embeddings_)

    def rollback(self, token) -> None:
        """Put the history, the redo stack and (deep mode) the encoder's tuned tensors back to ``token``."""
        history, states, redo, embeddings = token
        if self.mode == "deep" and len(history) != len(self.history_):
            self._tuner.load_bytes(self._deep_weights_at(len(history)), "Aligner.rollback")
        self.history_, self._states, self._redo, self.embeddings_ = list(history), list(states), list(redo), embeddings

    def redo(self) -> Round:
        """Re-apply the last undone round; returns it."""
        if not self._redo:
            raise AlignmentError("Aligner.redo: nothing to redo (no undone rounds since the last step).")
        rnd, state = self._redo[-1]
        history, states, redo = self.history_ + [rnd], self._states + [state], self._redo[:-1]
        if self.mode == "deep":
            self._tuner.load_bytes(rnd.weights, "Aligner.redo")
        self.history_, self._states, self._redo, self.embeddings_ = history, states, redo, state
        return rnd

    # ----------------------------------------------------------------- persistence
    def save(self, path) -> Path:
        """One zip file (atomic): original embeddings, parameters, rounds (constraints, figures, safetensors).

        Deep mode also stores the encoder's tuned tensors before the first round and each round's embeddings
        (re-encoding every row on load would take as long as the rounds did); the raw inputs and the rest of
        the model are not stored: :meth:`load` takes them again."""
        path = Path(path)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("embeddings.npz", self.embeddings.to_bytes())
            rounds = [(r, "active", s) for r, s in zip(self.history_, self._states[1:])] + [
                (r, "redo", s) for r, s in self._redo
            ]
            meta = {"format": FORMAT, "version": FORMAT_VERSION, "params": self._file_params(), "rounds": []}
            if self.mode == "deep":
                z.writestr("deep_original.safetensors", self._deep_original)
                meta["deep"] = {
                    "original": "deep_original.safetensors",
                    "encoder": self._tuner.kind,
                    "towers": list(self.towers),
                    "tuned": list(self._tuner.names),
                }
            for k, (r, status, state) in enumerate(rounds):
                name = f"round_{k:03d}.safetensors"
                z.writestr(name, r.weights)
                entry = {
                    "status": status,
                    "index": r.index,
                    "weights": name,
                    "seconds": r.seconds,
                    "report": r.report,
                    "constraints": [c.to_dict() for c in r.constraints],
                }
                if self.mode == "deep":
                    entry["vectors"] = f"round_{k:03d}_vectors.npy"
                    vbuf = io.BytesIO()
                    np.save(vbuf, state.vectors, allow_pickle=False)
                    z.writestr(entry["vectors"], vbuf.getvalue())
                meta["rounds"].append(entry)
            z.writestr("aligner.json", json.dumps(meta, default=_json_default))
        atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path, encoder=None, images=None, texts=None) -> Aligner:
        """Rebuild an Aligner written by :meth:`save`; fast-mode states are recomputed from the saved adapters.

        A deep-mode file needs the encoder (same model) and the raw inputs again (``images`` / ``texts``, as
        for the constructor). The encoder's tuned tensors are first set to the saved originals (so a fresh
        encoder and the one tuned by the saving aligner both work), checked against the saved embeddings, then
        set to those of the last active round. If anything fails the encoder is left as it was."""
        path = Path(path)
        if not path.exists():
            raise MissingFileError(f"no aligner file at {path}; write one with Aligner.save(path).")
        return cls._from_archive(path, str(path), encoder, images, texts)

    @classmethod
    def _from_archive(cls, source, path, encoder=None, images=None, texts=None) -> Aligner:
        """``load`` of a path or of the file's bytes (a session holds them), read through ``safe_zip``: sizes
        checked before inflating, member names and parameters checked, no pickle."""
        from ..data.safe_zip import SafeZip, check_params, npy_from_bytes

        try:
            with SafeZip(source, path) as z:
                meta = z.read_json("aligner.json")
                if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
                    raise AlignmentError(
                        f"{path}: not an Aligner file of version {FORMAT_VERSION} (format {meta.get('format')!r}, "
                        f"version {meta.get('version')!r}); check the path, or upgrade modalchorus-widget."
                    )
                emb = z.read("embeddings.npz")
                blobs = {r["weights"]: z.read(r["weights"]) for r in meta["rounds"]}
                deep = meta.get("deep")
                if deep is not None:
                    blobs[deep["original"]] = z.read(deep["original"])
                    for r in meta["rounds"]:
                        blobs[r["vectors"]] = npy_from_bytes(z.read(r["vectors"]), f"{path}:{r['vectors']}")
        except (zipfile.BadZipFile, KeyError, TypeError, AttributeError, json.JSONDecodeError, ValueError) as exc:
            if isinstance(exc, (AlignmentError, UntrustedFileError)):
                raise
            raise AlignmentError(
                f"{path} is not a readable Aligner file ({exc}); check the path, or save it again with "
                "Aligner.save(path)."
            ) from exc
        known = set(cls._FILE_PARAMS) | {"towers", "steps", "lr"}
        params = _renamed_in_file(check_params(meta.get("params"), known, path, "Aligner"))
        es = EmbeddingSet.from_bytes(emb, f"{path}:embeddings.npz")
        meta = {**meta, "params": params}
        if deep is not None:
            return cls._load_deep(path, meta, es, blobs, encoder, images, texts)
        out = cls(es, encoder=encoder, **params)
        # active rounds in order; then the undone ones, saved as the redo stack (last undone first), so they
        # are replayed in reverse to rebuild their states in the order they were made
        active = [r for r in meta["rounds"] if r["status"] == "active"]
        undone = [r for r in meta["rounds"] if r["status"] != "active"]
        built = []
        for r in active + undone[::-1]:
            rnd = Round(
                r["index"],
                [constraint_from_dict(c) for c in r["constraints"]],
                r["report"],
                r["seconds"],
                blobs[r["weights"]],
                mode=out.mode,
            )
            prev = built[-1][1] if built else out._states[-1]
            adapters = rnd.adapters if out.mode == "fast" and not rnd.is_identity else None
            after = _after(prev, out.mode, rnd.weights, adapters, rnd.is_identity, f"{path} ({r['weights']})")
            built.append((rnd, prev.with_vectors(after, normalize=False)))
        out._adopt(built[: len(active)], built[len(active) :][::-1])
        return out

    def _adopt(self, active, redo):
        """Install loaded rounds: ``active`` [(round, state)] in the order they were made, ``redo`` as saved
        (the redo stack, next round to redo last)."""
        self.history_ += [rnd for rnd, _ in active]
        self._states += [state for _, state in active]
        self._redo = list(redo)
        self.embeddings_ = self._states[-1]

    @classmethod
    def _load_deep(cls, path, meta, es, blobs, encoder, images, texts) -> Aligner:
        from .deep import DeepTuner

        if encoder is None:
            raise AlignmentError(
                f"{path} holds a deep-mode aligner: it tuned an encoder, so loading it needs that "
                "encoder and the raw inputs again: Aligner.load(path, encoder=..., images=..., "
                "texts=...)."
            )
        params = _renamed_in_file(meta["params"])
        towers = params.pop("towers", None)
        tuner = DeepTuner(encoder, es, images=images, texts=texts, towers=towers)  # checks inputs, touches nothing
        where = f"{path}"
        original = tuner.from_bytes(blobs[meta["deep"]["original"]], where)
        rounds = [(r, tuner.from_bytes(blobs[r["weights"]], f"{where} ({r['weights']})")) for r in meta["rounds"]]
        current = tuner.state()
        try:
            tuner.set_state(original)
            out = cls(es, encoder=encoder, images=images, texts=texts, towers=towers, **params)
            active, redo = [], []
            for r, _ in rounds:
                vec = blobs[r["vectors"]]
                if vec.shape != es.vectors.shape or vec.dtype != np.float32:
                    raise AlignmentError(
                        f"{path}: round {r['index']} embeddings have shape {vec.shape}, the set "
                        f"{es.vectors.shape}; the file is corrupt."
                    )
                rnd = Round(
                    r["index"],
                    [constraint_from_dict(c) for c in r["constraints"]],
                    r["report"],
                    r["seconds"],
                    blobs[r["weights"]],
                    None,
                    mode="deep",
                )
                (active if r["status"] == "active" else redo).append((rnd, es.with_vectors(vec, normalize=False)))
            out._adopt(active, redo)
            if out.history_:
                out._tuner.load_bytes(out.history_[-1].weights, where)
                out._tuner.check(out.embeddings_)  # the restored encoder reproduces the saved embeddings
        except BaseException:
            tuner.set_state(current)
            raise
        return out

    def __repr__(self) -> str:
        deep = f", towers={list(self.towers)!r}" if self.mode == "deep" else ""
        return f"Aligner({self.embeddings!r}, rounds={len(self.history_)}, mode={self.mode!r}{deep})"


# ---------------------------------------------------------------------------- helpers
def _renamed_in_file(params: dict) -> dict:
    """Parameters of an Aligner file, with the names of files written before 0.2 (steps, lr) updated."""
    params = dict(params)
    for old, new in (("steps", "n_steps"), ("lr", "learning_rate")):
        if old in params:
            params[new] = params.pop(old)
    return params


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in an Aligner file")


def _after(prev: EmbeddingSet, mode, weights, adapters, identity, where="anchor round") -> np.ndarray:
    """The vectors of state ``prev`` after a fast- or anchor-mode round (its adapters, or its stored anchor rows)."""
    if identity:
        return np.array(prev.vectors, copy=True)
    if mode == "anchors":
        return apply_anchor_round(prev.vectors, weights, where)
    after = np.array(prev.vectors, copy=True)
    for m in adapters.keys():
        rows = prev.mask(m)
        after[rows] = apply_adapter(adapters, prev.vectors[rows], m)
    return after
