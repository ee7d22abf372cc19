"""Shared context of the reliability cases: small real objects (``Ctx``), their ``snapshot`` and ``diff``.

Every case table (bad inputs, interrupts, hostile files) runs against one ``Ctx`` and must leave the objects it
touched as it found them; ``FIX_WORDS`` are the words a clear error message uses to say how to fix the input.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

FIX_WORDS = (
    "pass",
    "use",
    "drop",
    "fix",
    "check",
    "select",
    "give",
    "rename",
    "re-",
    "clean",
    "align",
    "upgrade",
    "reinstall",
    "put",
    "choose",
    "wrap",
    "reshape",
    "save",
    "type",
    "downscale",
    "decode",
    "must",
    "expected",
    "should",
    "convert",
    "lower",
    "project",
)

# what a case needs built before its snapshot (``BadInput.needs``, ``InterruptCase.needs``)
ES, MFM_, AL, CH = ("es",), ("mfm",), ("aligner",), ("chorus",)
N_PAIRS = 48  # image/caption pairs of COCO-500 in the shared context


# --------------------------------------------------------------------------------------------- context
class Ctx:
    """Small real objects shared by the cases, built lazily and once: the first ``n_pairs`` COCO-500 CLIP
    pairs as an ``EmbeddingSet``, a fitted ``MFM``, an ``Aligner`` and a ``Chorus`` with sets and a selection.

    Cases must leave them as they found them (that is what ``snapshot``/``diff`` check).
    """

    def __init__(self, n_pairs: int = N_PAIRS, tmp: Path | None = None):
        self.n_pairs = n_pairs
        self._tmp_obj = None if tmp is not None else tempfile.TemporaryDirectory(prefix="mc-rel-")
        self.tmp = Path(tmp) if tmp is not None else Path(self._tmp_obj.name)
        self._cache: dict = {}
        self.scratch: dict = {}  # what an interrupt case's work hands to its verify step
        self.source = "coco500-clip-vitb16"

    def close(self):
        if self._tmp_obj is not None:
            self._tmp_obj.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def built(self, name: str) -> bool:
        return name in self._cache

    def _once(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def pairs(self):
        """(images, texts, labels): the first ``n_pairs`` COCO-500 CLIP ViT-B/16 pairs (shipped with the package)."""

        def make():
            from modalchorus_widget.data.datasets import coco500_path

            x = np.load(coco500_path() / "clip_vitb16_img_txt.npy", mmap_mode="r")
            img, txt = np.array(x[0, : self.n_pairs], np.float32), np.array(x[1, : self.n_pairs], np.float32)
            return img, txt, [f"c{i % 4}" for i in range(self.n_pairs)]

        return self._once("pairs", make)

    @property
    def es(self):
        def make():
            from modalchorus_widget.data.embeddings import EmbeddingSet

            img, txt, labels = self.pairs()
            captions = [f"caption {i}" for i in range(len(txt))]
            return EmbeddingSet.from_pairs(img, txt, labels=labels, text_labels=labels, captions=captions)

        return self._once("es", make)

    @property
    def mfm(self):
        return self._once("mfm", lambda: small_mfm().fit(self.es))

    @property
    def aligner(self):
        def make():
            from modalchorus_widget.alignment import Aligner

            return Aligner(
                n_steps=4, n_reference=32, n_candidates=32, batch_size=32, hidden=8, eval_every=2, random_state=0
            ).fit(self.es)

        return self._once("aligner", make)

    @property
    def chorus(self):
        def make():
            from modalchorus_widget.widget.chorus import Chorus

            es = self.es
            # named apart from "MFM" so that set_method("MFM") fits a new map (the set_method interrupt case)
            w = Chorus(
                es,
                projector={"MFM-small": self.mfm},
                positions=self.mfm.transform(es.vectors),
                aligner=self.aligner,
            )
            w.wait_probe()  # the background probe would otherwise change its traits in the middle of a case
            w.sets["first"] = np.arange(5)
            w.selected = np.arange(3)
            return w

        return self._once("chorus", make)

    @property
    def aligned(self):
        """The context's Aligner after one good round (history an interrupted round could lose)."""

        def make():
            from modalchorus_widget.alignment import PointSet

            a = self.aligner
            if not a.history_:
                a.step(PointSet(self.n_pairs, np.arange(4)))
            return a

        return self._once("aligned", make)

    def build(self, names) -> None:
        for name in names:
            getattr(self, name)

    def file(self, name: str, data: bytes) -> Path:
        p = self.tmp / name
        p.write_bytes(data)
        return p


def small_mfm(**params):
    """An MFM small enough to fit the shared context in about a second."""
    from modalchorus_widget.projection.mfm import MFM

    kw = dict(
        hidden=(32,),
        n_steps=12,
        batch_size=32,
        warm_start=False,
        verbose=False,
        random_state=0,
    )
    return MFM(**{**kw, **params})


# ------------------------------------------------------------------------------------------- snapshots
def snapshot(ctx: Ctx) -> dict:
    """Everything a case could damage in the shared objects built so far, as plain copies."""
    out = {}
    if ctx.built("es"):
        es = ctx.es
        out["es.vectors"] = es.vectors.copy()
        out["es.frame"] = es.frame.copy()
    if ctx.built("mfm"):
        m = ctx.mfm
        out["mfm.params"] = {k: v.detach().clone().numpy() for k, v in m.network_.state_dict().items()}
        out["mfm.embedding_"] = m.embedding_.copy()
        out["mfm.get_params"] = m.get_params()
        import torch

        out["torch.threads"] = torch.get_num_threads()
    if ctx.built("aligner"):
        a = ctx.aligner
        out["aligner.rounds"] = len(a.history_)
        out["aligner.weights"] = [bytes(r.weights) for r in a.history_]
        out["aligner.vectors"] = a.embeddings_.vectors.copy()
        out["aligner.redo"] = [bytes(r.weights) for r, _ in a._redo]
    if ctx.built("chorus"):
        w = ctx.chorus
        out["chorus.positions"] = np.array(w.positions, copy=True)
        out["chorus.vectors"] = w.embeddings.vectors.copy()
        out["chorus.sets"] = {k: np.array(v) for k, v in w.sets.items()}
        out["chorus.selected"] = np.array(w.selected, copy=True)
        out["chorus.axis"] = np.array(w.axis_positions, copy=True)
        out["chorus.method"] = w.method
        out["chorus.methods_cached"] = sorted(w.state.positions)
        out["chorus.busy"] = w.busy
        out["chorus.rounds"] = w.state.rounds
        out["chorus.category"] = np.array(w.category, copy=True)
    return out


def _same(v, w) -> bool:
    if isinstance(v, np.ndarray):
        return isinstance(w, np.ndarray) and v.shape == w.shape and np.array_equal(v, w)
    if isinstance(v, dict):
        return isinstance(w, dict) and v.keys() == w.keys() and all(_same(v[k], w[k]) for k in v)
    if hasattr(v, "equals"):
        return v.equals(w)
    return v == w


def diff(before: dict, after: dict) -> list[str]:
    """Names of snapshot entries that changed (entries only in ``after`` were built lazily, not changed)."""
    return [k for k, v in before.items() if not _same(v, after.get(k))]


# ------------------------------------------------------------------------------------------ bad inputs
