"""An Aligner's file: one zip (atomic) with the embeddings it was fitted on, its parameters and its rounds.

``save_aligner`` writes it, ``load_aligner`` reads it back through ``safe_zip`` (sizes checked before inflating,
member names and parameters checked, no pickle); ``Aligner.save`` / ``Aligner.load`` call them.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.embeddings import EmbeddingSet
from ..errors import AlignmentError, SessionError
from ..io import atomic_write_bytes
from .adapter import adapters_from_bytes
from .constraints import constraint_from_dict
from .guard import check_alpha, interpolate

FORMAT = "modalchorus-aligner"
FORMAT_VERSION = 1


@dataclass
class Round:
    """One alignment round: what was asked, what it cost, what it changed, and the adapter that did it.

    ``Aligner.step`` returns it; it is not built by hand.

    Parameters
    ----------
    index : int
        Its place in the aligner's history.
    constraints : list
        The constraints it was asked to satisfy.
    report : dict
        What it changed: ``steps`` (0: kept nothing), ``moved_*``, ``predictions_changed_*``, ``guard``, ...
    seconds : float
        Its training time.
    weights : bytes
        The trained adapter / anchor / encoder tensors.
    mode : str, default "fast"
        The aligner's mode.
    alpha : float, default 1.0
        The strength it is applied at (the guard may lower it).

    Examples
    --------
    >>> from modalchorus_widget import Aligner, PointSet, load_coco500
    >>> es = load_coco500().embeddings
    >>> al = Aligner(n_steps=5).fit(es)
    >>> rnd = al.step(PointSet(int((es.modality == "text").nonzero()[0][0]), [0, 1, 2]))
    >>> rnd.index, rnd.mode, "steps" in rnd.report
    (0, 'fast', True)
    >>> rnd.export("fix.mcpatch").name
    'fix.mcpatch'
    """

    index: int
    constraints: list
    report: dict
    seconds: float
    weights: bytes = field(repr=False)
    _adapters: object = field(default=None, repr=False, compare=False)
    mode: str = "fast"
    alpha: float = 1.0  # the strength the round is applied at (alignment/guard.py)
    _owner: object = field(default=None, repr=False, compare=False)

    def export(self, path) -> Path:
        """Write the patch of the active rounds up to this one (``Aligner.export_patch``, ``alignment/patch.py``)."""
        if self._owner is None or self not in self._owner.history_:
            raise AlignmentError(
                "Round.export: this round is not active in an aligner; use aligner.export_patch(path)."
            )
        return self._owner.export_patch(path, upto=self._owner.history_.index(self) + 1)

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


def save_aligner(al, path) -> Path:
    """One zip file (atomic): original embeddings, parameters, rounds (constraints, figures, safetensors).

    Deep mode also stores the encoder's tuned tensors before the first round and each round's embeddings
    (re-encoding every row on load would take as long as the rounds did); the raw inputs and the rest of
    the model are not stored: :func:`load_aligner` takes them again."""
    al._check_fitted("save")
    path = Path(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("embeddings.npz", al._states[0].to_bytes())
        rounds = [(r, "active", s) for r, s in zip(al.history_, al._states[1:])] + [(r, "redo", s) for r, s in al._redo]
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "params": al._file_params(), "rounds": []}
        if al.mode == "deep":
            z.writestr("deep_original.safetensors", al._deep_original)
            meta["deep"] = {
                "original": "deep_original.safetensors",
                "encoder": al.tuner_.kind,
                "towers": list(al.towers_),
                "tuned": list(al.tuner_.names),
            }
        for k, (r, status, state) in enumerate(rounds):
            name = f"round_{k:03d}.safetensors"
            z.writestr(name, r.weights)
            entry = {
                "status": status,
                "index": r.index,
                "weights": name,
                "seconds": r.seconds,
                "alpha": r.alpha,
                "report": r.report,
                "constraints": [c.to_dict() for c in r.constraints],
            }
            if al.mode == "deep":
                entry["vectors"] = f"round_{k:03d}_vectors.npy"
                vbuf = io.BytesIO()
                np.save(vbuf, state.vectors, allow_pickle=False)
                z.writestr(entry["vectors"], vbuf.getvalue())
            meta["rounds"].append(entry)
        z.writestr("aligner.json", json.dumps(meta, default=_json_default))
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_aligner(cls, source, path, encoder=None, images=None, texts=None):
    """``load`` of a path or of the file's bytes (a session holds them), read through ``safe_zip``: sizes
    checked before inflating, member names and parameters checked, no pickle."""
    from ..safe_zip import SafeZip, npy_from_bytes
    from ..safe_zip import check_params as check_file_params

    try:
        with SafeZip(source, path) as z:
            meta = z.read_json("aligner.json")
            if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
                raise SessionError(
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
        if isinstance(exc, (SessionError, AlignmentError)):
            raise
        raise SessionError(
            f"{path} is not a readable Aligner file ({exc}); check the path, or save it again with Aligner.save(path)."
        ) from exc
    known = set(cls._FILE_PARAMS) | {"towers"}
    params = check_file_params(meta.get("params"), known, path, "Aligner")
    es = EmbeddingSet.from_bytes(emb, f"{path}:embeddings.npz")
    meta = {**meta, "params": params}
    if deep is not None:
        return _load_deep(cls, path, meta, es, blobs, encoder, images, texts)
    out = cls(encoder=encoder, **params).fit(es)
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
            alpha=check_alpha(r.get("alpha", 1.0), path),
        )
        prev = built[-1][1] if built else out._states[-1]
        adapters = rnd.adapters if out.mode == "fast" and not rnd.is_identity else None
        after = cls.after_round(prev, out.mode, rnd.weights, adapters, rnd.is_identity, f"{path} ({r['weights']})")
        after = interpolate(prev.vectors, after, rnd.alpha)
        built.append((rnd, prev.with_vectors(after, normalize=False)))
    _adopt(out, built[: len(active)], built[len(active) :][::-1])
    return out


def _adopt(al, active, redo):
    """Install loaded rounds: ``active`` [(round, state)] in the order they were made, ``redo`` as saved
    (the redo stack, next round to redo last)."""
    for rnd, _ in list(active) + list(redo):
        rnd._owner = al
    al.history_ += [rnd for rnd, _ in active]
    al._states += [state for _, state in active]
    al._redo = list(redo)
    al.embeddings_ = al._states[-1]


def _load_deep(cls, path, meta, es, blobs, encoder, images, texts):
    from .deep import DeepTuner

    if encoder is None:
        raise AlignmentError(
            f"{path} holds a deep-mode aligner: it tuned an encoder, so loading it needs that "
            "encoder and the raw inputs again: Aligner.load(path, encoder=..., images=..., "
            "texts=...)."
        )
    params = dict(meta["params"])
    towers = params.pop("towers", None)
    tuner = DeepTuner(encoder, es, images=images, texts=texts, towers=towers)  # checks inputs, touches nothing
    where = f"{path}"
    original = tuner.from_bytes(blobs[meta["deep"]["original"]], where)
    rounds = [(r, tuner.from_bytes(blobs[r["weights"]], f"{where} ({r['weights']})")) for r in meta["rounds"]]
    current = tuner.state()
    try:
        tuner.set_state(original)
        out = cls(encoder=encoder, towers=towers, **params).fit(es, images=images, texts=texts)
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
                alpha=check_alpha(r.get("alpha", 1.0), path),
            )
            (active if r["status"] == "active" else redo).append((rnd, es.with_vectors(vec, normalize=False)))
        _adopt(out, active, redo)
        if out.history_:
            out.tuner_.load_bytes(out._deep_weights_at(len(out.history_)), where)  # each round at its alpha
            out.tuner_.check(out.embeddings_)  # the restored encoder reproduces the saved embeddings
    except BaseException:
        tuner.set_state(current)
        raise
    return out


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in an Aligner file")
