"""Aligner: rounds of alignment on an EmbeddingSet, with history, undo/redo and atomic save/load.

Each ``step(*constraints)`` fits a fresh round on the *current* vectors (rounds compose) and swaps the new state in
only once its weights (safetensors bytes) and figures are recorded: anything that goes wrong before (bad constraint,
NaN, KeyboardInterrupt) leaves the aligner as it was. Fast mode fits near-identity adapters (``fit.py``), deep mode
the encoder's last block (``deep.py``), anchor mode the anchor rows of point-set constraints (``anchors.py``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from .. import memory
from ..data.embeddings import EmbeddingSet
from ..data.validation import Check, Interval, Options, check_modality, check_params, check_vectors
from ..device import device_ok, resolve_device
from ..encoders.base import check_encoder
from ..errors import AlignmentError, InputTypeError, MissingFileError, NotFittedError
from .adapter import adapters_to_bytes, apply_adapter
from .aligner_file import Round
from .anchors import anchors_to_bytes, fit_anchor_round, map_tuned_anchors
from .constraints import Constraint
from .fit import MODE_DEFAULTS, FitParams, fit_round, stratified
from .guard import guard_ok, guard_round, guard_to_json, mix_vectors, set_mapper
from .report import round_report
from .rounds import Delta, after_state, apply_round, delta_between
from .strength import preview, restrength

MODES = ("fast", "deep", "anchors")
FORMAT = "modalchorus-aligner"
FORMAT_VERSION = 1


class Aligner(BaseEstimator):
    """Fix what a user selected, round by round, without silently breaking the rest.

    A scikit-learn estimator: parameters here, data in :meth:`fit`, then rounds with :meth:`step`,
    :meth:`undo` and :meth:`redo`. ``Chorus(embeddings, aligner=Aligner(...))`` fits it on the widget's own
    embeddings.

    Parameters
    ----------
    mode : {"fast", "deep", "anchors"}, default "fast"
        ``"fast"``: frozen encoder, residual adapters on the embeddings. ``"deep"``: tune the last block of the
        encoder's towers on the raw inputs (``alignment/deep.py``). ``"anchors"``: tune only the anchor rows of
        point-set constraints, e.g. class prompts (``alignment/anchors.py``).
    encoder : Encoder, optional
        Embeds text anchors and few-shot items. Required in deep mode: an ``OpenCLIPEncoder`` (ViT towers) or
        an embedded model (``DefaultEncoder``, ``ShapesEncoder``), the model that made the embeddings; its
        weights are tuned **in place** (undo / redo restore them).
    hidden : int, default 64
        Width of a fast-mode adapter (unused in deep and anchor modes).
    n_steps, learning_rate, temperature, margin, preserve_kl, preserve_l2, kl_temperature, n_reference, \
n_candidates, batch_size, validation, eval_every, patience
        The round's optimisation, see :class:`~.fit.FitParams`. ``"auto"`` (learning_rate, temperature,
        preserve_l2, validation) takes the mode's default (``fit.MODE_DEFAULTS``): fast and deep 2e-4, 0.01, 10,
        0.2; anchors 1e-3, 0.003, 1, 0 (every step), chosen by leave-one-case-out cross-validation.
    refit : bool, default False
        After the held-out slice picked the step count, refit on all rows (True) or keep the best checkpoint
        of the held-out run (False: about half the time).
    stop_when_satisfied : bool or "auto", default "auto"
        End a round of point-set constraints as soon as they hold on every selected row (each pulled member's
        best-matching candidate is the anchor; each pushed member sits ``margin`` below its start cosine): the
        smallest change that does what was asked; not for set-set rounds. ``"auto"``: True in fast and deep
        modes (``scripts/zero_shot_cv.py``), False in anchor mode (``scripts/anchor_cv.py``).
    towers : str or sequence of str, optional
        Deep mode only: which towers to tune, ``"image"`` and/or ``"text"`` (default: every tower the encoder
        can tune that the set has rows of; the default model's text tower is locked). The towers chosen are
        ``towers_`` after ``fit``.
    guard : "auto", dict, EmbeddingSet or None, default "auto"
        How strong a round may be (``guard.py``): of the strengths alpha in [0, 1] at which nothing outside the
        selection regresses by more than ``tolerance`` (0.01), the one whose target is best. A dict sets
        ``tolerance``, ``on``, ``labels``, ``pairs``, ``set``, ``concepts``, ``min_count``, ``keep_selected`` and
        ``pick``; a labelled EmbeddingSet is ``dict(set=...)``; None applies every round at full strength.
    random_state : int or None, default 0
        Seed (None: 0); the same inputs give bit-identical rounds.
    device : str, default "auto"
        Where a round's per-row work (adapters over every changed row) runs: CUDA when torch sees a GPU, else
        the CPU (``device.resolve_device``, read at each round: torch loads with the first round, not with fit);
        ``device_`` says which the last round used.

    Attributes
    ----------
    embeddings_ : EmbeddingSet
        The set after the active rounds (the fitted set before any).
    history_ : list of Round
        The active rounds, in order.
    undone_ : list of Round
        Rounds undone and not redone; :meth:`redo` takes the last.
    tuner_ : DeepTuner or None
        Deep mode: the encoder tensors a round tunes.
    towers_ : tuple of str
        Deep mode: the towers tuned.

    Examples
    --------
    >>> from modalchorus_widget import Aligner, PointSet, load_default
    >>> data = load_default("shapes")
    >>> al = Aligner(mode="anchors", encoder=data.encoder).fit(data.embeddings)
    >>> rnd = al.step(PointSet(int(data.prompt_index[0]), data.train[:5]))  # doctest: +SKIP
    >>> al.undo()  # doctest: +SKIP
    """

    _parameter_constraints = {
        "mode": [Options(*MODES)],
        **dict.fromkeys(
            ("hidden", "n_reference", "n_candidates", "batch_size", "eval_every"), [Interval(Integral, 1, None)]
        ),
        **dict.fromkeys(("n_steps", "patience"), [Interval(Integral, 0, None)]),
        **dict.fromkeys(("margin", "kl_temperature"), [Interval(Real, 0, None, closed="neither")]),
        **dict.fromkeys(("learning_rate", "temperature"), [Options("auto"), Interval(Real, 0, None, closed="neither")]),
        "preserve_kl": [Interval(Real, 0, None)],
        "preserve_l2": [Options("auto"), Interval(Real, 0, None)],
        "validation": [Options("auto"), Interval(Real, 0, 1, closed="left")],
        "refit": ["boolean"],
        "stop_when_satisfied": [Options("auto"), "boolean"],
        "random_state": [None, Interval(Integral, 0, None)],
        "guard": [None, Check(guard_ok, "'auto', None or a dict(tolerance=..., on=rows)")],
        "device": [Check(device_ok, "'auto' (CUDA when torch sees a GPU, else the CPU), 'cpu', 'cuda' or 'cuda:N'")],
    }

    def __init__(
        self,
        mode="fast",
        encoder=None,
        hidden=64,
        n_steps=150,
        learning_rate="auto",
        temperature="auto",
        margin=0.1,
        preserve_kl=5.0,
        preserve_l2="auto",
        kl_temperature=0.01,
        n_reference=256,
        n_candidates=256,
        batch_size=128,
        validation="auto",
        eval_every=5,
        patience=6,
        refit=False,
        stop_when_satisfied="auto",
        towers=None,
        random_state=0,
        guard="auto",
        device="auto",
    ):
        self.mode = mode
        self.encoder = encoder
        self.hidden = hidden
        self.n_steps = n_steps
        self.learning_rate = learning_rate
        self.temperature = temperature
        self.margin = margin
        self.preserve_kl = preserve_kl
        self.preserve_l2 = preserve_l2
        self.kl_temperature = kl_temperature
        self.n_reference = n_reference
        self.n_candidates = n_candidates
        self.batch_size = batch_size
        self.validation = validation
        self.eval_every = eval_every
        self.patience = patience
        self.refit = refit
        self.stop_when_satisfied = stop_when_satisfied
        self.towers = towers
        self.random_state = random_state
        self.guard = guard
        self.device = device

    def fit(self, embeddings, images=None, texts=None) -> Aligner:
        """Take the set to align; rounds then start from it (a fitted aligner starts afresh: no history).

        Parameters
        ----------
        embeddings : EmbeddingSet
            The set to align (rows keep their order; only vectors change).
        images, texts : sequence, optional
            Deep mode only: the raw inputs, one per image / text row in row order (or one per row of the set).
            Default: the set's ``items`` of those rows, when every one of them is there.

        Returns
        -------
        Aligner
            self, fitted.

        Raises
        ------
        InputTypeError
            ``embeddings`` is not an EmbeddingSet.
        ParameterError
            A parameter has a value it does not allow.
        AlignmentError
            Raw inputs or towers outside deep mode; in deep mode, an encoder that cannot be tuned or raw
            inputs that do not reproduce the embeddings.
        EncoderError
            ``encoder`` is not an Encoder.

        Examples
        --------
        >>> from modalchorus_widget import Aligner, load_coco500
        >>> al = Aligner(n_steps=20).fit(load_coco500().embeddings)  # doctest: +SKIP
        """
        if not isinstance(embeddings, EmbeddingSet):
            raise InputTypeError(
                f"Aligner.fit: embeddings must be an EmbeddingSet, got {type(embeddings).__name__}; "
                "wrap arrays with EmbeddingSet(vectors, modality=...)."
            )
        check_params(self, "Aligner")
        encoder = check_encoder(self.encoder, "Aligner(encoder=...)")
        if self.mode != "deep" and (images is not None or texts is not None or self.towers is not None):
            raise AlignmentError(
                "Aligner: images=, texts= and towers= are for mode='deep' (tuning the encoder); "
                f"{self.mode} mode works on the embeddings alone."
            )
        tuner, towers, original = None, (), None
        if self.mode == "deep":
            from .deep import DeepTuner

            tuner = DeepTuner(encoder, embeddings, images=images, texts=texts, towers=self.towers)
            tuner.check(embeddings)
            towers, original = tuple(tuner.towers), tuner.to_bytes()  # the tuned tensors before any round
        self.tuner_, self.towers_, self._deep_original = tuner, towers, original
        self.embeddings_ = embeddings
        self.history_ = []
        self._states = [embeddings]
        self._redo = []
        memory.reserve(embeddings.vectors.shape)  # the first round's new state, mapped while the user lassos
        return self

    def _concepts(self):
        """The class prompt rows the round's readings go against (the guard's ``concepts``), or None."""
        g = self.guard
        return np.asarray(g["concepts"], np.int64) if isinstance(g, dict) and g.get("concepts") is not None else None

    def _check_fitted(self, where: str) -> None:
        if not hasattr(self, "embeddings_"):
            raise NotFittedError(
                f"Aligner.{where}: this Aligner is not fitted yet; call aligner.fit(embeddings) first "
                "(Chorus(embeddings, aligner=Aligner(...)) fits it on the widget's embeddings)."
            )

    # ----------------------------------------------------------------- params
    _FILE_PARAMS = tuple(
        "mode hidden n_steps learning_rate temperature margin preserve_kl preserve_l2 kl_temperature "
        "n_reference n_candidates batch_size validation eval_every patience refit stop_when_satisfied random_state "
        "guard".split()
    )

    def _file_params(self) -> dict:
        """The parameters an Aligner file stores (everything but the data and the encoder)."""
        out = {k: getattr(self, k) for k in self._FILE_PARAMS}
        out["guard"] = guard_to_json(self.guard)
        if self.mode == "deep":
            out["towers"] = list(self.towers_)
        return out

    def _params(self, round_index=0) -> FitParams:
        check_params(self, "Aligner")
        auto = {k: MODE_DEFAULTS[self.mode][k] if getattr(self, k) == "auto" else getattr(self, k) for k in _AUTO}
        return FitParams(
            hidden=int(self.hidden),
            steps=int(self.n_steps),
            lr=float(auto["learning_rate"]),
            temperature=float(auto["temperature"]),
            margin=float(self.margin),
            preserve_kl=float(self.preserve_kl),
            preserve_l2=float(auto["preserve_l2"]),
            kl_temperature=float(self.kl_temperature),
            n_reference=int(self.n_reference),
            n_candidates=int(self.n_candidates),
            batch_size=int(self.batch_size),
            validation=float(auto["validation"]),
            eval_every=int(self.eval_every),
            patience=int(self.patience),
            refit=bool(self.refit),
            stop_when_satisfied=bool(auto["stop_when_satisfied"]),
            seed=(0 if self.random_state is None else int(self.random_state)) + 1000 * round_index,
        )

    # ----------------------------------------------------------------- rounds
    def step(self, *constraints) -> Round:
        """Run one round with the given constraints; returns its :class:`Round` (also appended to history_)."""
        self._check_fitted("step")
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
        unselected = np.flatnonzero(np.isin(np.arange(es.n), selected, invert=True, kind="table"))
        if len(unselected) == 0:  # nothing left to preserve but closeness to the start (the KL would undo the pull)
            params = replace(params, preserve_kl=0.0)
        rng, mod = np.random.default_rng(params.seed), es.modality  # (the column is converted once per round)
        ref = stratified(rng, unselected if len(unselected) else np.arange(es.n), mod, params.n_reference)
        if self.mode == "deep":
            return self._step_deep(flat, resolved, params, selected, ref, t0)
        before = es.vectors
        if self.mode == "anchors":
            rows, new, info = fit_anchor_round(before, mod, resolved, ref, params)
            weights, adapters = anchors_to_bytes(rows, new), None
        else:
            adapters, info = fit_round(before, mod, resolved, ref, params)
            weights = adapters_to_bytes(adapters)
        self.device_ = resolve_device(self.device, "Aligner(device=...)")  # blockwise, on the changed rows only
        after, delta = apply_round(before, mod, self.mode, weights, adapters, info["steps"] == 0, self.device_)
        mapper = set_mapper(self.transform, adapters)
        after, alpha, guarded = guard_round(self.guard, es, before, after, resolved, selected, mapper, delta.rows, True)
        delta = delta if alpha == 1.0 else Delta.none() if alpha == 0.0 else delta_between(before, after, delta.rows)
        new_es = es.with_vectors(after, normalize=False, trusted=True)  # a new finite array: no copy, no check
        report = round_report(es, before, after, resolved, adapters, selected, info, delta, self._concepts())
        report.update(alpha=alpha, **({"guard": guarded} if guarded else {}))
        rnd = Round(len(self.history_), flat, report, 0.0, weights, adapters, mode=self.mode, alpha=alpha)
        rnd._owner, rnd.delta = self, delta  # the rows it changed: the widget re-places and re-reads only those
        rnd.seconds = report["seconds"] = round(time.perf_counter() - t0, 4)
        # commit: build the new containers first, then swap them in together
        history, states = self.history_ + [rnd], self._states + [new_es]
        self.history_, self._states, self._redo, self.embeddings_ = history, states, [], new_es
        memory.reserve(after.shape)  # and the next one's
        return rnd

    def _step_deep(self, flat, resolved, params, selected, ref, t0) -> Round:
        """One deep round: tune the encoder in place, re-encode, apply at the guard's alpha (WiSE-FT, deep.py), then
        commit; on any exception (KeyboardInterrupt, NaN loss, encoder error) the tensors go back bit for bit."""
        from .deep import fit_deep_round, guard_deep, reencode

        tuner, es = self.tuner_, self.embeddings_
        start = tuner.state()
        try:
            info = fit_deep_round(tuner, es.vectors, es.modality, resolved, ref, params)
            before = es.vectors
            t_enc = time.perf_counter()
            after = reencode(tuner, es, before) if info["steps"] > 0 else np.array(before, copy=True)
            info["seconds_reencode"] = round(time.perf_counter() - t_enc, 4)
            tuned, alpha, guarded = tuner.state(), 1.0, None
            if info["steps"] > 0:  # the encoder is left at theta(alpha)
                after, alpha, guarded = guard_deep(
                    self.guard, tuner, es, before, after, resolved, selected, start, tuned
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
                alpha=alpha,
                **({"guard": guarded} if guarded else {}),
            )
            weights = tuner.to_bytes(tuned)  # the full round; the encoder holds theta(alpha)
            rnd = Round(len(self.history_), flat, report, 0.0, weights, None, mode="deep", alpha=alpha, _owner=self)
        except BaseException:
            tuner.set_state(start)
            raise
        rnd.seconds = report["seconds"] = round(time.perf_counter() - t0, 4)
        history, states = self.history_ + [rnd], self._states + [new_es]
        self.history_, self._states, self._redo, self.embeddings_ = history, states, [], new_es
        return rnd

    def export_patch(self, path, upto=None) -> Path:
        """Write the first ``upto`` active rounds (all) as a patch file (``Patch``, ``alignment/patch.py``)."""
        from .patch import _load_st, build_patch

        self._check_fitted("export_patch")
        k = len(self.history_) if upto is None else int(upto)
        enc = _load_st(self._deep_weights_at(k)) if self.mode == "deep" else None
        return build_patch(self.mode, self.history_[:k], self._states[0], self._states[k], enc).save(path)

    def set_strength(self, alpha) -> Round:
        """The last round at strength ``alpha`` in [0, 1] (the slider's "Apply"; kept by undo/redo/save/load)."""
        return restrength(self, alpha, _after)

    def preview_strength(self, alpha) -> np.ndarray:
        """The last round's vectors at strength ``alpha``, nothing committed (the widget's slider)."""
        return preview(self, alpha, _after)

    def _deep_weights_at(self, k: int, history=None) -> bytes:
        """The tuned tensors after the first k rounds of ``history`` (default: the active ones), each at its alpha."""
        from .deep import weights_after

        return weights_after(self.tuner_, self._deep_original, (self.history_ if history is None else history)[:k])

    def transform(self, vectors, modality=None) -> np.ndarray:
        """Map vectors of the original space through every active round (rows L2-normalised).

        Parameters
        ----------
        vectors : array-like (n, d) or (d,), or EmbeddingSet
            Vectors of the space the aligner was fitted in, before any round.
        modality : str or sequence of str, optional
            One name for every row, or one per row; taken from an EmbeddingSet when not given. Needed in
            fast mode, where each modality has its own adapter.

        Returns
        -------
        numpy.ndarray
            float32 unit rows, (n, d) (or (d,) for one vector).

        Notes
        -----
        Fast mode maps every vector through each round's adapter of its modality. Anchor mode moved only the
        anchor rows it tuned: a vector equal to one of those rows' original vectors maps to that row's tuned
        vector, and every other vector stays where it is (the rounds changed nothing else). Deep mode tuned the
        encoder itself, so there is no map from vectors of the original space once a round changed it:
        re-encode the raw items with ``aligner.encoder``.

        Raises
        ------
        EmbeddingError
            Vectors that are not finite, zero, or of another dimension than the fitted set.
        AlignmentError
            No modality in fast mode; deep mode after a round that changed the encoder.
        NotFittedError
            Before :meth:`fit`.

        Examples
        --------
        >>> al.transform(prompt_vectors, "text")  # doctest: +SKIP
        """
        self._check_fitted("transform")
        if modality is None and isinstance(vectors, EmbeddingSet):
            modality = vectors.modality
        single = np.ndim(vectors) == 1 and not isinstance(vectors, EmbeddingSet)
        v = check_vectors(vectors, "Aligner.transform", dim=self.embeddings_.dim, normalize="always", allow_1d=True)
        v = np.array(v, dtype=np.float32, copy=True)
        active = [r for r in self.history_ if not r.is_identity]
        if self.mode == "deep" and active:
            raise AlignmentError(
                f"Aligner.transform: deep mode tuned the encoder itself ({len(active)} round(s) changed it), so "
                "vectors of the original space have no map into the aligned one; re-encode the raw items with "
                "aligner.encoder (it holds the tuned weights), or use mode='fast' for a vector-to-vector map."
            )
        if self.mode == "fast" and active:
            if modality is None:
                raise AlignmentError(
                    "Aligner.transform: fast mode maps each modality through its own adapter; pass "
                    "modality='image' / 'text' (or one name per row)."
                )
            mods = check_modality(modality, len(v), "Aligner.transform")
            for m in dict.fromkeys(mods.tolist()):
                rows = mods == m
                part = v[rows]
                for rnd in active:
                    part = mix_vectors(part, apply_adapter(rnd.adapters, part, m), rnd.alpha)
                v[rows] = part
        elif self.mode == "anchors" and active:
            mods = None if modality is None else check_modality(modality, len(v), "Aligner.transform")
            v = map_tuned_anchors(v, mods, self._states[0], self.embeddings_)
        return v[0] if single else v

    def transform_encoded(self, vectors, modality) -> np.ndarray:
        """Vectors that ``aligner.encoder`` returned just now, in the aligned space.

        Fast and anchor modes: :meth:`transform` (the encoder is frozen). Deep mode: as they are, normalised,
        since the encoder already holds the tuned weights.

        Parameters
        ----------
        vectors : array-like (n, d)
            Fresh outputs of ``aligner.encoder``.
        modality : str or sequence of str
            One name for every row, or one per row.

        Returns
        -------
        numpy.ndarray
            float32 unit rows (n, d).

        Raises
        ------
        EmbeddingError
            Vectors that are not finite, zero, or of another dimension.
        """
        if self.mode == "deep":
            self._check_fitted("transform_encoded")
            v = check_vectors(
                vectors, "Aligner.transform_encoded", dim=self.embeddings_.dim, normalize=True, allow_1d=True
            )
            return v[0] if np.ndim(vectors) == 1 else v
        return self.transform(vectors, modality)

    def undo(self) -> Round:
        """Step back one round (bit-exact earlier state); returns the round undone."""
        self._check_fitted("undo")
        if not self.history_:
            raise AlignmentError("Aligner.undo: nothing to undo (no rounds in the history).")
        rnd = self.history_[-1]
        history, states, redo = self.history_[:-1], self._states[:-1], self._redo + [(rnd, self._states[-1])]
        if self.mode == "deep":  # the encoder's tuned tensors go back to those after the previous round
            self.tuner_.load_bytes(self._deep_weights_at(len(history)), "Aligner.undo")
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
            self.tuner_.load_bytes(self._deep_weights_at(len(history), history), "Aligner.rollback")
        self.history_, self._states, self._redo, self.embeddings_ = list(history), list(states), list(redo), embeddings

    def redo(self) -> Round:
        """Re-apply the last undone round; returns it."""
        self._check_fitted("redo")
        if not self._redo:
            raise AlignmentError("Aligner.redo: nothing to redo (no undone rounds since the last step).")
        rnd, state = self._redo[-1]
        history, states, redo = self.history_ + [rnd], self._states + [state], self._redo[:-1]
        if self.mode == "deep":
            self.tuner_.load_bytes(self._deep_weights_at(len(history), history), "Aligner.redo")
        self.history_, self._states, self._redo, self.embeddings_ = history, states, redo, state
        return rnd

    # ----------------------------------------------------------------- persistence
    after_round = staticmethod(lambda *a, **k: _after(*a, **k))  # how aligner_file replays a loaded round

    def save(self, path) -> Path:
        """Write the aligner to one zip file, atomically: the fitted embeddings, parameters and rounds.

        Deep mode also stores the encoder's tuned tensors before the first round and each round's embeddings
        (re-encoding every row on load would take as long as the rounds did); the raw inputs and the rest of
        the model are not stored: :meth:`load` takes them again.

        Parameters
        ----------
        path : str or Path
            The file to write.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        """
        from .aligner_file import save_aligner

        self._check_fitted("save")
        return save_aligner(self, path)

    @classmethod
    def load(cls, path, encoder=None, images=None, texts=None) -> Aligner:
        """Rebuild an Aligner written by :meth:`save`; fast-mode states are recomputed from the saved adapters.

        A deep-mode file needs the encoder (same model) and the raw inputs again (``images`` / ``texts``, as
        for fit). The encoder's tuned tensors are first set to the saved originals (so a fresh
        encoder and the one tuned by the saving aligner both work), checked against the saved embeddings, then
        set to those of the last active round. If anything fails the encoder is left as it was."""
        path = Path(path)
        if not path.exists():
            raise MissingFileError(f"no aligner file at {path}; write one with Aligner.save(path).")
        return cls._from_archive(path, str(path), encoder, images, texts)

    @classmethod
    def _from_archive(cls, source, path, encoder=None, images=None, texts=None) -> Aligner:
        """``load`` of a path or of the file's bytes (a session holds them)."""
        from .aligner_file import load_aligner

        return load_aligner(cls, source, path, encoder, images, texts)

    def __repr__(self) -> str:
        if not hasattr(self, "embeddings_"):
            return f"Aligner(mode={self.mode!r}, not fitted)"
        deep = f", towers={list(self.towers_)!r}" if self.mode == "deep" else ""
        return f"Aligner({self._states[0]!r}, rounds={len(self.history_)}, mode={self.mode!r}{deep})"


# ---------------------------------------------------------------------------- helpers
_AUTO = ("learning_rate", "temperature", "preserve_l2", "validation", "stop_when_satisfied")  # "auto": MODE_DEFAULTS
_after = after_state  # the vectors after a fast- or anchor-mode round (rounds.py: blockwise, changed rows only)
