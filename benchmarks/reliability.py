"""`python -m modalchorus_widget.bench reliability --json FILE`: bad inputs, interrupted work, large inputs.

Writes {"bad_inputs_tried", "bad_inputs_clear_error", "interrupts_survived", "interrupts_tried",
"peak_rss_gb_1m", "state_lost", "points_shown_5m", "notice_5m", "max_message_buffer_mb", "build_state_s_5m",
"peak_rss_gb_5m"} plus per-case detail:
- every bad input a user can hand the public API (``BAD_INPUTS``): it must raise one of the expected
  exception types, with a message that names what was wrong and says how to fix it, and leave the
  objects it touched as they were (compared by snapshot before/after);
- interrupted work (``INTERRUPTS``): KeyboardInterrupt or an exception raised part-way through MFM fitting,
  encoding and an alignment round; the previous model, positions, sets and history must be intact and
  usable afterwards (``state_lost`` counts cases where they were not);
- peak RSS (VmHWM of /proc/self/status, else ru_maxrss) of a fresh subprocess running the kernel-side path
  for 1,000,000 x 512 float32 unit embeddings: EmbeddingSet construction, MFM.transform, widget payload
  encoding;
- the widget for 5,000,000 points (positions, categories and modality codes only; 5M x 512 embeddings would
  be 10 GB): points shown (``points_shown_5m``, the default ``max_points`` sample), the notice it shows
  (``notice_5m``), the largest binary buffer of any comm message either way (``max_message_buffer_mb``:
  the state message, and a lasso around every shown point), the time to build the widget and its state
  message (``build_state_s_5m``) and the peak RSS of that process (``peak_rss_gb_5m``).

The same case tables drive ``tests/test_reliability.py`` (one test per row), so the figure and the tests
cannot drift apart. Data: a small slice of the shared COCO-500 CLIP embeddings (synthetic unit vectors
when that folder is absent, said so in the JSON).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

FIX_WORDS = ("pass", "use", "drop", "fix", "check", "select", "give", "rename", "re-", "clean", "align",
             "upgrade", "reinstall", "put", "choose", "wrap", "reshape", "save", "type", "downscale",
             "decode", "must", "expected", "should", "convert", "lower", "project")


# --------------------------------------------------------------------------------------------- context
class Ctx:
    """Small real objects shared by the cases: an EmbeddingSet, a fitted MFM, an Aligner, a Chorus.

    Built lazily and once; cases must leave them as they found them (that is what they check).
    """

    def __init__(self, n_pairs: int = 48, tmp: Path | None = None):
        self.n_pairs = n_pairs
        self._tmp_obj = None if tmp is not None else tempfile.TemporaryDirectory(prefix="mc-rel-")
        self.tmp = Path(tmp) if tmp is not None else Path(self._tmp_obj.name)
        self._cache = {}
        self.source = None

    def close(self):
        if self._tmp_obj is not None:
            self._tmp_obj.cleanup()

    def _once(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # raw data: real COCO-500 CLIP pairs when present
    def pairs(self):
        def make():
            from ..datasets import default_coco500_path

            p = Path(default_coco500_path()) / "clip_vitb16_img_txt.npy"
            if p.exists():
                x = np.load(p, mmap_mode="r")
                self.source = "coco500-clip-vitb16"
                img, txt = np.array(x[0, : self.n_pairs]), np.array(x[1, : self.n_pairs])
            else:
                self.source = "synthetic (COCO-500 not found)"
                rng = np.random.default_rng(0)
                base = rng.normal(size=(self.n_pairs, 512)).astype(np.float32)
                img = base + 0.3 * rng.normal(size=base.shape).astype(np.float32)
                txt = base + 0.3 * rng.normal(size=base.shape).astype(np.float32)
            labels = [f"c{i % 4}" for i in range(self.n_pairs)]
            return img.astype(np.float32), txt.astype(np.float32), labels
        return self._once("pairs", make)

    @property
    def es(self):
        def make():
            from ..embeddings import EmbeddingSet

            img, txt, labels = self.pairs()
            captions = [f"caption {i}" for i in range(len(txt))]
            return EmbeddingSet.from_pairs(img, txt, labels=labels, text_labels=labels, captions=captions)
        return self._once("es", make)

    @property
    def mfm(self):
        def make():
            from ..mfm import MFM

            return MFM(hidden=(32,), n_steps=12, max_points_per_step=64, batch_size=32, warm_start=False,
                       random_state=0).fit(self.es.vectors, modality=self.es.modality)
        return self._once("mfm", make)

    @property
    def aligner(self):
        def make():
            from ..alignment import Aligner

            return Aligner(self.es, steps=4, n_reference=32, n_candidates=32, batch_size=32, hidden=8,
                           eval_every=2, random_state=0)
        return self._once("aligner", make)

    @property
    def chorus(self):
        def make():
            from ..widget import Chorus

            es = self.es
            w = Chorus(es, projector=self.mfm, positions=self.mfm.transform(es.vectors), method="MFM",
                       aligner=self.aligner)
            w.sets["first"] = np.arange(5)
            w.selected = np.arange(3)
            return w
        return self._once("chorus", make)

    def file(self, name: str, data: bytes) -> Path:
        p = self.tmp / name
        p.write_bytes(data)
        return p


# ------------------------------------------------------------------------------------------- snapshots
def snapshot(ctx: Ctx) -> dict:
    """Everything a case could damage, as plain copies."""
    out = {}
    if "es" in ctx._cache:
        es = ctx._cache["es"]
        out["es.vectors"] = es.vectors.copy()
        out["es.frame"] = es.frame.copy()
    if "mfm" in ctx._cache:
        m = ctx._cache["mfm"]
        out["mfm.params"] = {k: v.detach().clone().numpy() for k, v in m.network_.state_dict().items()}
        out["mfm.embedding_"] = m.embedding_.copy()
    if "aligner" in ctx._cache:
        a = ctx._cache["aligner"]
        out["aligner.rounds"] = len(a.history_)
        out["aligner.vectors"] = a.embeddings_.vectors.copy()
    if "chorus" in ctx._cache:
        w = ctx._cache["chorus"]
        out["chorus.positions"] = np.array(w.positions, copy=True)
        out["chorus.vectors"] = w.embeddings.vectors.copy()
        out["chorus.sets"] = {k: np.array(v) for k, v in w.sets.items()}
        out["chorus.selected"] = np.array(w.selected, copy=True)
        out["chorus.axis"] = np.array(w.axis_positions, copy=True)
        out["chorus.method"] = w.method
        out["chorus.busy"] = w.busy
        out["chorus.category"] = np.array(w.category, copy=True)
    return out


def diff(before: dict, after: dict) -> list[str]:
    """Names of snapshot entries that changed (entries present only in ``after`` were created lazily)."""
    changed = []
    for k, v in before.items():
        w = after.get(k)
        if isinstance(v, np.ndarray):
            same = isinstance(w, np.ndarray) and v.shape == w.shape and np.array_equal(v, w)
        elif isinstance(v, dict):
            same = isinstance(w, dict) and v.keys() == w.keys() and all(
                np.array_equal(np.asarray(v[x]), np.asarray(w[x])) for x in v)
        elif hasattr(v, "equals"):
            same = v.equals(w)
        else:
            same = v == w
        if not same:
            changed.append(k)
    return changed


# ------------------------------------------------------------------------------------------ bad inputs
@dataclass
class BadInput:
    """One row of the README table: a bad input, the API that receives it, and what must happen."""

    name: str
    where: str
    run: Callable[[Ctx], object]
    expect: tuple
    words: tuple = ()  # each must appear in the message (case-insensitive): says *what* was wrong
    prepare: Callable[[Ctx], object] | None = None  # build what the case needs before the snapshot


@dataclass
class Outcome:
    name: str
    where: str
    raised: str | None
    message: str
    clear: bool
    state_changed: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.clear and not self.state_changed


def _unit(rng, n, d):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _vec(ctx, fn):
    """Vectors like the context's (so errors come from the bad part, not from shape)."""
    img, txt, _ = ctx.pairs()
    v = np.concatenate([img, txt]).copy()
    fn(v)
    return v


def _es(vectors, **kw):
    from ..embeddings import EmbeddingSet

    return EmbeddingSet(vectors, **kw)


def _corrupt_default_weights(ctx):
    from ..encoders.default import WEIGHTS_FILE, DefaultEncoder

    w = ctx.file("corrupt_digits.safetensors", b"\x93NUMPY not a safetensors file" * 10)
    (ctx.tmp / "corrupt_digits.json").write_bytes(WEIGHTS_FILE.with_suffix(".json").read_bytes())
    return DefaultEncoder(weights=w).encode_images(np.zeros((1, 8, 8), np.float32))


def _truncated_default_weights(ctx):
    from ..encoders.default import WEIGHTS_FILE, DefaultEncoder

    data = WEIGHTS_FILE.read_bytes()
    w = ctx.file("truncated_digits.safetensors", data[: len(data) // 2])
    (ctx.tmp / "truncated_digits.json").write_bytes(WEIGHTS_FILE.with_suffix(".json").read_bytes())
    return DefaultEncoder(weights=w).encode_images(np.zeros((1, 8, 8), np.float32))


def _png(size=(16, 16)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", size, 200).save(buf, format="PNG")
    return buf.getvalue()


@contextlib.contextmanager
def _small_pixel_limit(limit=1000):
    """Make PIL treat images over ``2*limit`` pixels as decompression bombs (a huge image, cheaply)."""
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _huge_image(fn):
    def run(ctx):
        p = ctx.file("huge.png", _png((200, 200)))  # 40,000 pixels > 2 x the limit below
        with _small_pixel_limit(1000):
            return fn(ctx, p)
    return run


def _session_file(ctx, data):
    from ..session import load_session

    return load_session(ctx.file("bad.mcsession", data))


def _wrong_version_session(ctx):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "modalchorus-session", "version": 999}))
    return _session_file(ctx, buf.getvalue())


def _prepare_chorus(ctx):
    return ctx.chorus


def _prepare_aligner(ctx):
    return ctx.aligner


def _prepare_mfm(ctx):
    return ctx.mfm


def _aligner_cls():
    from ..alignment import Aligner

    return Aligner


def _default_encoder():
    from ..encoders.default import DefaultEncoder

    return DefaultEncoder()  # a private instance: deep mode would tune it in place


def _digit_images(n):
    from sklearn.datasets import load_digits

    return load_digits().images[:n].astype(np.float32)


def _digits_es(n):
    """n digit images embedded by the default model, with no raw items attached."""
    return _es(_default_encoder().encode_images(_digit_images(n)), modality="image")


def _bad_inputs() -> list[BadInput]:
    from ..alignment.constraints import AlignmentError
    from ..buffers import BufferFormatError
    from ..embeddings import EmbeddingError
    from ..mfm import MFMInputError
    from ..metrics import MetricInputError
    from ..session import SessionError
    from ..widget import WidgetError

    VE, TE, FNF = ValueError, TypeError, FileNotFoundError

    def PointSet(*a, **k):
        from ..alignment import PointSet as P

        return P(*a, **k)

    def SetSet(*a, **k):
        from ..alignment import SetSet as S

        return S(*a, **k)

    def n_img(ctx):
        return ctx.n_pairs

    rows = [
        # ---- vectors
        BadInput("NaN in vectors", "EmbeddingSet(vectors)",
                 lambda c: _es(_vec(c, lambda v: v.__setitem__((3, 0), np.nan)), modality="image"),
                 (EmbeddingError,), ("nan",)),
        BadInput("inf in vectors", "EmbeddingSet(vectors)",
                 lambda c: _es(_vec(c, lambda v: v.__setitem__((5, 1), np.inf)), modality="image"),
                 (EmbeddingError,), ("inf",)),
        BadInput("NaN in vectors", "EmbeddingSet.with_vectors",
                 lambda c: c.es.with_vectors(_vec(c, lambda v: v.__setitem__((0, 0), np.nan))),
                 (EmbeddingError,), ("nan",), lambda c: c.es),
        BadInput("NaN in vectors", "MFM.fit",
                 lambda c: __import__("modalchorus_widget.mfm", fromlist=["MFM"]).MFM(n_steps=2).fit(
                     _vec(c, lambda v: v.__setitem__((2, 2), np.nan)), modality=c.es.modality),
                 (MFMInputError,), ("nan",)),
        BadInput("NaN in vectors", "MFM.transform",
                 lambda c: c.mfm.transform(_vec(c, lambda v: v.__setitem__((7, 0), np.nan))),
                 (MFMInputError,), ("nan",), _prepare_mfm),
        BadInput("NaN in vectors", "Aligner.transform",
                 lambda c: c.aligner.transform(_vec(c, lambda v: v.__setitem__((1, 0), np.nan)), "image"),
                 (AlignmentError,), ("nan",), _prepare_aligner),
        BadInput("NaN in positions", "Chorus.update_positions",
                 lambda c: c.chorus.update_positions(np.where(np.arange(c.chorus.n)[:, None] == 4, np.nan,
                                                              np.asarray(c.chorus.positions))),
                 (BufferFormatError, WidgetError), ("finite",), _prepare_chorus),
        BadInput("NaN in vectors", "metrics.trustworthiness",
                 lambda c: __import__("modalchorus_widget.metrics", fromlist=["x"]).trustworthiness(
                     _vec(c, lambda v: v.__setitem__((0, 0), np.nan)), np.zeros((2 * c.n_pairs, 2)), k=5),
                 (MetricInputError,), ("nan",)),
        BadInput("zero vector", "EmbeddingSet(vectors)",
                 lambda c: _es(_vec(c, lambda v: v.__setitem__(4, 0.0)), modality="image"),
                 (EmbeddingError,), ("zero",)),
        BadInput("zero vector", "MFM.transform",
                 lambda c: c.mfm.transform(_vec(c, lambda v: v.__setitem__(9, 0.0))),
                 (MFMInputError,), ("zero",), _prepare_mfm),
        BadInput("zero vector", "PointSet anchor vector",
                 lambda c: c.aligner.step(PointSet(np.zeros(c.es.dim, np.float32), np.arange(3))),
                 (AlignmentError,), ("zero",), _prepare_aligner),
        BadInput("wrong dtype (strings)", "EmbeddingSet(vectors)",
                 lambda c: _es(np.array([["a", "b"], ["c", "d"]]), modality="image"),
                 (EmbeddingError,), ("dtype",)),
        BadInput("wrong dtype (object rows)", "EmbeddingSet(vectors)",
                 lambda c: _es(np.array([np.zeros(3), np.zeros(4)], dtype=object), modality="image"),
                 (EmbeddingError,), ("dtype",)),
        BadInput("wrong shape (1-D)", "EmbeddingSet(vectors)",
                 lambda c: _es(np.ones(8, np.float32), modality="image"), (EmbeddingError,), ("shape",)),
        BadInput("wrong shape (0 rows)", "EmbeddingSet(vectors)",
                 lambda c: _es(np.ones((0, 8), np.float32), modality="image"), (EmbeddingError,), ("empty",)),
        BadInput("wrong shape", "EmbeddingSet.with_vectors",
                 lambda c: c.es.with_vectors(np.ones((3, c.es.dim), np.float32)), (EmbeddingError,), ("shape",),
                 lambda c: c.es),
        BadInput("wrong shape (n, 3) positions", "Chorus(positions=...)",
                 lambda c: __import__("modalchorus_widget.widget", fromlist=["Chorus"]).Chorus(
                     c.es, positions=np.zeros((c.es.n, 3), np.float32)),
                 (BufferFormatError, WidgetError), ("shape",)),
        BadInput("wrong type (ndarray, not EmbeddingSet)", "Chorus(embeddings)",
                 lambda c: __import__("modalchorus_widget.widget", fromlist=["Chorus"]).Chorus(c.es.vectors),
                 (WidgetError, TE), ("embeddingset",)),
        BadInput("mismatched dimensions between modalities", "EmbeddingSet.from_pairs",
                 lambda c: __import__("modalchorus_widget.embeddings", fromlist=["x"]).EmbeddingSet.from_pairs(
                     c.pairs()[0], c.pairs()[1][:, :256]),
                 (EmbeddingError,), ("dimension",)),
        BadInput("mismatched dimensions between sets", "EmbeddingSet.concat",
                 lambda c: __import__("modalchorus_widget.embeddings", fromlist=["x"]).EmbeddingSet.concat(
                     [c.es, _es(c.pairs()[1][:, :256], modality="text", ids=[f"t{i}" for i in range(c.n_pairs)])]),
                 (EmbeddingError,), ("dimension",), lambda c: c.es),
        BadInput("vectors of another dimension", "MFM.transform",
                 lambda c: c.mfm.transform(np.ones((4, 7), np.float32)), (MFMInputError,), ("dimension",),
                 _prepare_mfm),
        BadInput("vectors of another dimension", "Aligner.transform",
                 lambda c: c.aligner.transform(np.ones((4, 7), np.float32), "text"), (AlignmentError,), ("7",),
                 _prepare_aligner),
        BadInput("anchor vector of another dimension", "PointSet anchor",
                 lambda c: c.aligner.step(PointSet(np.ones(7, np.float32), np.arange(3))), (AlignmentError,),
                 ("dimension",), _prepare_aligner),
        BadInput("duplicate ids", "EmbeddingSet(ids)",
                 lambda c: _es(c.pairs()[0][:4], modality="image", ids=["a", "b", "a", "c"]),
                 (EmbeddingError,), ("duplicate",)),
        BadInput("duplicate ids across sets", "EmbeddingSet.concat",
                 lambda c: __import__("modalchorus_widget.embeddings", fromlist=["x"]).EmbeddingSet.concat(
                     [c.es, c.es]), (EmbeddingError,), ("ids",), lambda c: c.es),
        BadInput("empty selection", "Aligner.step(PointSet)",
                 lambda c: c.aligner.step(PointSet(0, [])), (AlignmentError,), ("empty",), _prepare_aligner),
        BadInput("empty selection", "Aligner.step(SetSet)",
                 lambda c: c.aligner.step(SetSet(np.zeros(0, np.int64))), (AlignmentError,), ("empty",),
                 _prepare_aligner),
        BadInput("empty selection", "Chorus.align(PointSet(anchor, w.selected=[]))",
                 lambda c: c.chorus.align(PointSet(0, np.zeros(0, np.uint32))), (AlignmentError,), ("empty",),
                 _prepare_chorus),
        BadInput("empty set as concept", "Chorus.concept_axis",
                 lambda c: c.chorus.concept_axis(np.zeros((0, c.es.dim), np.float32), "first"),
                 (WidgetError, VE), ("empty",), _prepare_chorus),
        BadInput("single-point selection (only the anchor)", "Aligner.step(PointSet)",
                 lambda c: c.aligner.step(PointSet(2, [2])), (AlignmentError,), ("anchor",), _prepare_aligner),
        BadInput("single-point selection", "Aligner.step(SetSet(a))",
                 lambda c: c.aligner.step(SetSet([3])), (AlignmentError,), ("modalit",), _prepare_aligner),
        BadInput("selection of one modality for a cross-modal loss", "Aligner.step(SetSet(a) split by modality)",
                 lambda c: c.aligner.step(SetSet(np.arange(n_img(c)))), (AlignmentError,), ("modalit",),
                 _prepare_aligner),
        BadInput("unknown modality for a loss", "PointSet(anchor_modality=...)",
                 lambda c: c.aligner.step(PointSet(np.ones(c.es.dim, np.float32), np.arange(3),
                                                   anchor_modality="smell")),
                 (AlignmentError,), ("modality",), _prepare_aligner),
        BadInput("selection out of range", "Aligner.step(PointSet)",
                 lambda c: c.aligner.step(PointSet(0, [1, 10 ** 6])), (AlignmentError,), ("indices",),
                 _prepare_aligner),
        BadInput("selection out of range", "Chorus.selected",
                 lambda c: setattr(c.chorus, "selected", np.array([0, 10 ** 6])),
                 (BufferFormatError, WidgetError, Exception), ("range",), _prepare_chorus),
        BadInput("unknown concept text, no encoder", "Chorus.concept_axis",
                 lambda c: c.chorus.concept_axis("a zebra on ice", "a red car"), (WidgetError,), ("encoder",),
                 _prepare_chorus),
        BadInput("unknown anchor text, no encoder", "Aligner.step(PointSet('text', ...))",
                 lambda c: c.aligner.step(PointSet("a zebra on ice", np.arange(4))), (AlignmentError,),
                 ("encoder",), _prepare_aligner),
        BadInput("missing checkpoint", "DefaultEncoder(weights=...)",
                 lambda c: __import__("modalchorus_widget.encoders.default", fromlist=["x"]).DefaultEncoder(
                     weights=c.tmp / "nope.safetensors").encode_images(np.zeros((1, 8, 8), np.float32)),
                 (FNF,), ("nope",)),
        BadInput("missing checkpoint", "OpenCLIPEncoder(pretrained=FILE)",
                 lambda c: __import__("modalchorus_widget.encoders.open_clip", fromlist=["x"]).OpenCLIPEncoder(
                     "ViT-B-32", pretrained=str(c.tmp / "nope.pt")).dim, (FNF,), ("nope.pt",)),
        BadInput("missing checkpoint", "Aligner.load / load_session / EmbeddingSet.load",
                 lambda c: __import__("modalchorus_widget.session", fromlist=["x"]).load_session(c.tmp / "nope.zip"),
                 (FNF,), ("nope.zip",)),
        BadInput("corrupt checkpoint (garbage bytes)", "DefaultEncoder(weights=...)", _corrupt_default_weights,
                 (VE, OSError), ("corrupt_digits",)),
        BadInput("corrupt checkpoint (truncated)", "DefaultEncoder(weights=...)", _truncated_default_weights,
                 (VE, OSError), ("truncated_digits",)),
        BadInput("corrupt checkpoint", "Aligner.load",
                 lambda c: __import__("modalchorus_widget.alignment", fromlist=["x"]).Aligner.load(
                     c.file("bad_aligner.bin", b"PK\x03\x04 garbage")), (VE,), ("bad_aligner",)),
        BadInput("corrupt session file", "load_session", lambda c: _session_file(c, b"not a zip at all" * 4),
                 (SessionError,), ("bad.mcsession",)),
        BadInput("session of an unknown format version", "load_session", _wrong_version_session,
                 (SessionError,), ("version 999",)),
        BadInput("corrupt embeddings file", "EmbeddingSet.load",
                 lambda c: __import__("modalchorus_widget.embeddings", fromlist=["x"]).EmbeddingSet.load(
                     c.file("bad.npz", b"PK\x03\x04 garbage")), (EmbeddingError,), ("bad.npz",)),
        BadInput("undecodable image file", "make_thumbnail / Chorus tooltip",
                 lambda c: __import__("modalchorus_widget.embeddings", fromlist=["x"]).make_thumbnail(
                     c.file("broken.png", b"\x89PNG\r\n\x1a\n garbage")), (EmbeddingError,), ("broken.png",)),
        BadInput("undecodable image file", "DefaultEncoder.encode_images",
                 lambda c: __import__("modalchorus_widget.encoders.default", fromlist=["x"]).DefaultEncoder()
                 .encode_images([c.file("broken.png", b"\x89PNG\r\n\x1a\n garbage")]), (VE, OSError),
                 ("broken.png",)),
        BadInput("undecodable image file", "OpenCLIPEncoder.encode_images (to_pil)",
                 lambda c: __import__("modalchorus_widget.encoders.open_clip", fromlist=["x"]).to_pil(
                     c.file("broken.png", b"\x89PNG\r\n\x1a\n garbage")), (VE, OSError), ("broken.png",)),
        BadInput("huge image (decompression bomb)", "make_thumbnail / Chorus tooltip",
                 _huge_image(lambda c, p: __import__("modalchorus_widget.embeddings", fromlist=["x"])
                             .make_thumbnail(p)), (EmbeddingError,), ("huge.png", "pixels")),
        BadInput("huge image (decompression bomb)", "DefaultEncoder.encode_images",
                 _huge_image(lambda c, p: __import__("modalchorus_widget.encoders.default", fromlist=["x"])
                             .DefaultEncoder().encode_images([p])), (VE,), ("huge.png", "pixels")),
        BadInput("huge image (decompression bomb)", "OpenCLIPEncoder.encode_images (to_pil)",
                 _huge_image(lambda c, p: __import__("modalchorus_widget.encoders.open_clip", fromlist=["x"])
                             .to_pil(p)), (VE,), ("huge.png", "pixels")),
        BadInput("non-UTF-8 text (bytes)", "Encoder.encode_texts",
                 lambda c: __import__("modalchorus_widget.encoders.default", fromlist=["x"]).DefaultEncoder()
                 .encode_texts(["a cat", b"caf\xe9 \xff"]), (TE, VE), ("bytes",)),
        BadInput("non-UTF-8 text (undecodable surrogates)", "Encoder.encode_texts",
                 lambda c: __import__("modalchorus_widget.encoders.default", fromlist=["x"]).DefaultEncoder()
                 .encode_texts(["a cat", b"caf\xe9".decode("utf-8", "surrogateescape")]), (TE, VE), ("utf-8",)),
        BadInput("non-UTF-8 text (undecodable surrogates) in captions", "EmbeddingSet(items / labels / ids)",
                 lambda c: _es(c.pairs()[1][:2], modality="text",
                               items=["ok", b"caf\xe9".decode("utf-8", "surrogateescape")]).save(c.tmp / "s.npz"),
                 (EmbeddingError, VE), ("utf-8",)),
        BadInput("metadata frame of the wrong length", "EmbeddingSet(meta)",
                 lambda c: _es(c.pairs()[0][:6], modality="image", meta={"x": list(range(5))}),
                 (EmbeddingError,), ("meta", "5", "6")),
        BadInput("labels of the wrong length", "EmbeddingSet(labels)",
                 lambda c: _es(c.pairs()[0][:6], modality="image", labels=["a"] * 7),
                 (EmbeddingError,), ("labels", "7")),
        BadInput("unknown modality name", "EmbeddingSet(modality)",
                 lambda c: _es(c.pairs()[0][:3], modality=["image", "txt", "image"]), (EmbeddingError,), ("txt",)),
        BadInput("deep mode without an encoder to tune", "Aligner(mode='deep')",
                 lambda c: _aligner_cls()(c.es, mode="deep"), (AlignmentError,), ("encoder", "mode='fast'")),
        BadInput("deep mode without raw inputs", "Aligner(mode='deep', encoder=DefaultEncoder())",
                 lambda c: _aligner_cls()(_digits_es(6), mode="deep", encoder=_default_encoder()),
                 (AlignmentError,), ("images=",)),
        BadInput("deep mode with raw inputs of the wrong count", "Aligner(mode='deep', images=...)",
                 lambda c: _aligner_cls()(_digits_es(6), mode="deep", encoder=_default_encoder(),
                                          images=_digit_images(5)), (AlignmentError,), ("5", "6")),
        BadInput("unknown colour column", "Chorus.set_color_by",
                 lambda c: c.chorus.set_color_by("no_such_column"), (WidgetError,), ("no_such_column",),
                 _prepare_chorus),
    ]
    return rows


def run_bad_input(case: BadInput, ctx: Ctx) -> Outcome:
    """Run one case: it must raise an expected type, name what was wrong, say how to fix, change nothing."""
    if case.prepare is not None:
        case.prepare(ctx)
    before = snapshot(ctx)
    raised, msg, problems = None, "", []
    try:
        case.run(ctx)
        problems.append("no exception: the bad input was accepted")
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - we classify every failure
        raised, msg = type(exc).__name__, str(exc)
        if not isinstance(exc, case.expect):
            problems.append(f"raised {raised}, expected one of {[e.__name__ for e in case.expect]}")
    low = msg.lower()
    missing = [w for w in case.words if w.lower() not in low]
    if raised and missing:
        problems.append(f"message does not mention {missing}")
    if raised and not any(w in low for w in FIX_WORDS):
        problems.append("message does not say how to fix it")
    if raised and len(msg) < 25:
        problems.append("message too short to say what and where")
    changed = diff(before, snapshot(ctx))
    if changed:
        problems.append(f"state changed: {changed}")
    return Outcome(case.name, case.where, raised, msg, clear=not [p for p in problems if not p.startswith("state")],
                   state_changed=changed, problems=problems)


# ------------------------------------------------------------------------------------------ interrupts
class Interrupt(RuntimeError):
    """The exception the interrupt cases inject (beside KeyboardInterrupt)."""


@contextlib.contextmanager
def raising_tqdm(after: int, exc=KeyboardInterrupt):
    """Patch ``tqdm.auto.tqdm`` so iterating any progress bar raises ``exc`` after ``after`` items."""
    import tqdm.auto

    real = tqdm.auto.tqdm

    class Bomb(real):
        def __iter__(self):
            for i, x in enumerate(super().__iter__()):
                if i >= after:
                    raise exc("injected interrupt")
                yield x

    tqdm.auto.tqdm = Bomb
    try:
        yield
    finally:
        tqdm.auto.tqdm = real


@contextlib.contextmanager
def raising_attr(obj, name: str, after: int, exc=KeyboardInterrupt):
    """Wrap callable ``obj.name`` so its ``after+1``-th call raises ``exc`` (earlier calls run normally)."""
    real = getattr(obj, name)
    calls = [0]

    def wrapped(*a, **k):
        calls[0] += 1
        if calls[0] > after:
            raise exc("injected interrupt")
        return real(*a, **k)

    setattr(obj, name, wrapped)
    try:
        yield calls
    finally:
        setattr(obj, name, real)


@dataclass
class InterruptCase:
    name: str
    run: Callable[[Ctx], dict]  # returns {"survived": bool, "state_lost": [..], "detail": str}


def _check_mfm_intact(ctx, before):
    lost = [k for k in diff(before, snapshot(ctx)) if k.startswith("mfm")]
    es = ctx.es
    xy = ctx.mfm.transform(es.vectors)  # usable
    if not np.allclose(xy, before["mfm.embedding_"], atol=1e-5):
        lost.append("mfm.transform output")
    return lost


def _mfm_interrupt(exc, via):
    def run(ctx):
        import modalchorus_widget.mfm as M

        ctx.mfm  # fitted once before the interrupt
        before = snapshot(ctx)
        import torch

        threads = torch.get_num_threads()
        m = ctx.mfm
        m.set_params(n_steps=30)
        caught = None
        try:
            if via == "tqdm":
                m.verbose_prev = m.verbose
                with raising_tqdm(5, exc):
                    m.fit(ctx.es.vectors, modality=ctx.es.modality)
            else:  # the network's forward pass raises from step 5 on
                real_build = M.MFM._build

                def build(self, dim):
                    net = real_build(self, dim)
                    calls = [0]

                    def hook(_mod, _inp):
                        calls[0] += 1
                        if calls[0] > 5:
                            raise exc("injected interrupt")

                    net.register_forward_pre_hook(hook)
                    self._hook_net = net
                    return net

                M.MFM._build = build
                try:
                    m.fit(ctx.es.vectors, modality=ctx.es.modality)
                finally:
                    M.MFM._build = real_build
        except (KeyboardInterrupt, Interrupt) as e:
            caught = e
        finally:
            m.set_params(n_steps=12)
            for k in ("verbose_prev", "_hook_net"):
                m.__dict__.pop(k, None)
        lost = _check_mfm_intact(ctx, before)
        if torch.get_num_threads() != threads:
            lost.append("torch thread count")
        return {"survived": caught is not None and not lost, "state_lost": lost,
                "detail": f"interrupted with {type(caught).__name__ if caught else 'nothing (not interrupted)'}"}
    return run


def _chorus_set_method_interrupt(ctx):
    """KeyboardInterrupt while the Chorus fits a new projection (set_method)."""
    w = ctx.chorus
    before = snapshot(ctx)
    caught = None
    try:
        with raising_tqdm(3, KeyboardInterrupt):
            import modalchorus_widget.widget as W

            real = W.make_projector

            def small(method, random_state=0):
                from ..mfm import MFM

                return MFM(hidden=(16,), n_steps=20, max_points_per_step=64, batch_size=32, warm_start=False,
                           verbose=True)

            W.make_projector = small
            try:
                w.set_method("MFM-2")
            finally:
                W.make_projector = real
    except KeyboardInterrupt as e:
        caught = e
    lost = [k for k in diff(before, snapshot(ctx)) if k.startswith("chorus")]
    if "MFM-2" in w._positions_by_method:
        lost.append("half-fitted positions cached")
    return {"survived": caught is not None and not lost, "state_lost": lost,
            "detail": f"interrupted with {type(caught).__name__ if caught else 'nothing'}"}


def _encode_interrupt(exc):
    def run(ctx):
        from ..encoders.default import DefaultEncoder

        enc = DefaultEncoder()
        rng = np.random.default_rng(0)
        imgs = rng.uniform(0, 16, size=(64, 8, 8)).astype(np.float32)
        ref = enc.encode_images(imgs, batch_size=16)
        caught = None
        try:
            with raising_tqdm(2, exc):
                enc.encode_images(imgs, batch_size=8, progress=True)
        except (KeyboardInterrupt, Interrupt) as e:
            caught = e
        lost = []
        again = enc.encode_images(imgs, batch_size=16)  # still usable, same answers
        if not np.allclose(again, ref, atol=1e-6):
            lost.append("encoder output after the interrupt")
        return {"survived": caught is not None and not lost, "state_lost": lost,
                "detail": f"interrupted with {type(caught).__name__ if caught else 'nothing'}"}
    return run


def _aligner_interrupt(exc):
    def run(ctx):
        import modalchorus_widget.alignment.fit as F
        from ..alignment import PointSet

        a = ctx.aligner
        if not a.history_:  # one good round first, so there is history to lose
            a.step(PointSet(ctx.n_pairs, np.arange(4)))
        before = snapshot(ctx)
        hist = [bytes(r.weights) for r in a.history_]
        real_train = F.train

        def train(problem, *args, **kw):
            real_obj = problem.objective
            calls = [0]

            def objective(*a2, **k2):
                calls[0] += 1
                if calls[0] > 2:
                    raise exc("injected interrupt")
                return real_obj(*a2, **k2)

            problem.objective = objective
            return real_train(problem, *args, **kw)

        caught = None
        F.train = train
        try:
            a.step(PointSet(ctx.n_pairs + 1, np.arange(4, 9)))
        except (KeyboardInterrupt, Interrupt) as e:
            caught = e
        finally:
            F.train = real_train
        lost = [k for k in diff(before, snapshot(ctx)) if k.startswith("aligner")]
        if [bytes(r.weights) for r in a.history_] != hist:
            lost.append("aligner.history_ adapters")
        # usable: undo/redo and a new round still work
        n = len(a.history_)
        a.undo()
        a.redo()
        if len(a.history_) != n:
            lost.append("undo/redo after the interrupt")
        return {"survived": caught is not None and not lost, "state_lost": lost,
                "detail": f"interrupted with {type(caught).__name__ if caught else 'nothing'}"}
    return run


def _chorus_align_interrupt(exc, stage):
    """Chorus.align interrupted inside the aligner's training (stage='fit') or after the round, while
    re-placing the points with the projector (stage='transform')."""
    def run(ctx):
        import modalchorus_widget.alignment.fit as F
        from ..alignment import PointSet

        w = ctx.chorus
        before = snapshot(ctx)
        rounds = len(w.aligner.history_)
        caught = None
        if stage == "fit":
            cm = raising_attr(F, "train", 0, exc)
        else:
            cm = raising_attr(w.projector, "transform", 0, exc)
        try:
            with cm:
                w.align(PointSet(ctx.n_pairs + 2, np.arange(10, 14)))
        except (KeyboardInterrupt, Interrupt) as e:
            caught = e
        finally:
            w.projector.__dict__.pop("transform", None)
        lost = [k for k in diff(before, snapshot(ctx)) if k.startswith(("chorus", "aligner"))]
        if len(w.aligner.history_) != rounds:
            lost.append(f"aligner history advanced to {len(w.aligner.history_)} rounds but the widget shows "
                        f"round {rounds}")
        # repair so later cases start from a consistent state
        while len(w.aligner.history_) > rounds:
            w.aligner.undo()
        w.busy = before.get("chorus.busy", "")
        return {"survived": caught is not None and not lost, "state_lost": lost,
                "detail": f"interrupted with {type(caught).__name__ if caught else 'nothing'}"}
    return run


def _interrupts() -> list[InterruptCase]:
    return [
        InterruptCase("KeyboardInterrupt during MFM.fit (from the tqdm progress bar)",
                      _mfm_interrupt(KeyboardInterrupt, "tqdm")),
        InterruptCase("exception during MFM.fit (network forward raises at step 6)",
                      _mfm_interrupt(Interrupt, "forward")),
        InterruptCase("KeyboardInterrupt during Chorus.set_method (new projection being fitted)",
                      _chorus_set_method_interrupt),
        InterruptCase("KeyboardInterrupt during DefaultEncoder.encode_images (batch 3)",
                      _encode_interrupt(KeyboardInterrupt)),
        InterruptCase("exception during DefaultEncoder.encode_images (batch 3)", _encode_interrupt(Interrupt)),
        InterruptCase("KeyboardInterrupt during Aligner.step (training step 3)", _aligner_interrupt(KeyboardInterrupt)),
        InterruptCase("exception during Aligner.step (training step 3)", _aligner_interrupt(Interrupt)),
        InterruptCase("exception during Chorus.align (aligner training)", _chorus_align_interrupt(Interrupt, "fit")),
        InterruptCase("KeyboardInterrupt during Chorus.align (aligner training)",
                      _chorus_align_interrupt(KeyboardInterrupt, "fit")),
        InterruptCase("exception during Chorus.align (re-placing points after the round)",
                      _chorus_align_interrupt(Interrupt, "transform")),
    ]


BAD_INPUTS = None  # built lazily (imports the package's modules)
INTERRUPTS = None


def bad_inputs() -> list[BadInput]:
    global BAD_INPUTS
    if BAD_INPUTS is None:
        BAD_INPUTS = _bad_inputs()
    return BAD_INPUTS


def interrupts() -> list[InterruptCase]:
    global INTERRUPTS
    if INTERRUPTS is None:
        INTERRUPTS = _interrupts()
    return INTERRUPTS


# -------------------------------------------------------------------------------------------- large
# the peak-RSS probe both subprocess scripts below start with
_RSS_FN = r"""
def rss():
    # peak RSS of this process in GiB: VmHWM (per address space, so it starts afresh at exec); ru_maxrss
    # would carry over the parent's peak at fork (the bench's own ~1 GB) as a floor
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 2**20  # KiB -> GiB
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
"""

_RSS_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
n, d = int(sys.argv[1]), int(sys.argv[2])
t0 = time.perf_counter()
from modalchorus_widget.embeddings import EmbeddingSet
from modalchorus_widget.mfm import MFM
from modalchorus_widget.widget import ScatterWidget
import torch
torch.set_num_threads(2)
""" + _RSS_FN + r"""out = {"n": n, "dim": d, "rss_gb_after_imports": rss()}
# a small fitted MFM (fitting is not the large-input path; transform is)
rng = np.random.default_rng(0)
small = rng.normal(size=(400, d)).astype(np.float32)
mfm = MFM(hidden=(256, 128), n_steps=20, max_points_per_step=256, warm_start=False, random_state=0)
mfm.fit(small, modality=np.array(["image"] * 200 + ["text"] * 200))
out["rss_gb_after_fit"] = rss()
# the user's embeddings: n x d unit float32 rows, as an encoder returns them (made in place, chunk by chunk)
V = np.empty((n, d), np.float32)
for s in range(0, n, 100_000):
    c = rng.standard_normal(size=(min(100_000, n - s), d), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    V[s:s + len(c)] = c
out["rss_gb_input"] = rss()
t = time.perf_counter()
mod = np.where(np.arange(n) % 2 == 0, "image", "text")
es = EmbeddingSet(V, modality=mod)
out["embeddingset_s"] = time.perf_counter() - t
out["rss_gb_after_embeddingset"] = rss()
t = time.perf_counter()
xy = mfm.transform(es.vectors)
out["transform_s"] = time.perf_counter() - t
out["rss_gb_after_transform"] = rss()
t = time.perf_counter()
w = ScatterWidget(positions=xy, category=(np.arange(n) % 10).astype(np.uint8),
                  modality=(np.arange(n) % 2).astype(np.uint8))
pay = w.payload_nbytes()
out["widget_s"] = time.perf_counter() - t
out["payload"] = pay
out["rss_gb_peak"] = rss()
out["total_s"] = time.perf_counter() - t0
print("RESULT " + json.dumps(out))
"""

_WIDGET_5M_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
""" + _RSS_FN + r"""t0 = time.perf_counter()
from ipywidgets.widgets.widget import _remove_buffers
from modalchorus_widget.widget import ScatterWidget
from modalchorus_widget import buffers as B
n = int(sys.argv[1])
out = {"n": n, "rss_gb_after_imports": rss()}
# what is built: positions only (n x 2 float32, as a projection returns them), 10 categories, and a
# modality code per point (30 % texts); n x 512 embeddings would be 10 GB at 5M and are not the widget's part
rng = np.random.default_rng(0)
xy = rng.normal(size=(n, 2)).astype(np.float32)
cat = (np.arange(n) % 10).astype(np.uint8)
mod = (rng.random(n) < 0.3).astype(np.uint8)
out["input_mb"] = (xy.nbytes + cat.nbytes + mod.nbytes) / 1e6
out["rss_gb_input"] = rss()
t = time.perf_counter()
w = ScatterWidget(positions=xy, category=cat, modality=mod, modality_names=["image", "text"])
out["widget_s"] = time.perf_counter() - t
t = time.perf_counter()
st = w.get_state(); st.pop("_esm", None)   # the state message the browser gets (serializers run here)
_, _, bufs = _remove_buffers(st)
out["state_s"] = time.perf_counter() - t
sizes = [memoryview(b).nbytes for b in bufs]
out.update({"points_shown": w.n_shown, "sampled": w.sampled, "notice": w.sample_notice,
            "shown_per_modality": np.bincount(w.modality[w.shown_index], minlength=2).tolist(),
            "state_binary_bytes": int(sum(sizes)), "n_buffers": len(sizes), "largest_buffer_bytes": max(sizes)})
# the biggest browser -> kernel message: a lasso around every shown point (uint32 per point)
wire = B.chunk_buffer(B.to_bytes(np.arange(w.n_shown, dtype=np.uint32), "uint32"))
parts = wire if isinstance(wire, list) else [wire]
out["select_all_message_bytes"] = int(sum(p.nbytes for p in parts))
out["select_all_largest_buffer_bytes"] = int(max(p.nbytes for p in parts))
t = time.perf_counter()
w.set_state({"selected": wire})
out["select_all_s"] = time.perf_counter() - t
out["selected_full_indices"] = int(len(w.selected))
out["payload"] = w.payload_nbytes()
out["total_s"] = time.perf_counter() - t0
out["rss_gb_peak"] = rss()
print("RESULT " + json.dumps(out))
"""


def _run_script(script: str, args: list[str], timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": f"exit {proc.returncode}: {proc.stderr[-2000:]}"}


def measure_rss(n: int = 1_000_000, dim: int = 512, timeout: float = 900) -> dict:
    """Peak RSS (GiB) of a fresh Python running the kernel-side path for ``n`` x ``dim`` embeddings."""
    return _run_script(_RSS_SCRIPT, [n, dim], timeout)


def measure_widget(n: int = 5_000_000, timeout: float = 600) -> dict:
    """What the widget does with ``n`` points: payload size, buffer sizes, whether it downsampled."""
    return _run_script(_WIDGET_5M_SCRIPT, [n], timeout)


# --------------------------------------------------------------------------------------------- main
def run_all(n_rss: int = 1_000_000, dim: int = 512, widget_n: int = 5_000_000, skip_large: bool = False) -> dict:
    ctx = Ctx()
    try:
        outcomes = [run_bad_input(c, ctx) for c in bad_inputs()]
        ints = []
        for c in interrupts():
            try:
                r = c.run(ctx)
            except Exception as exc:  # noqa: BLE001 - a case that blows up did not survive
                r = {"survived": False, "state_lost": [f"case failed: {type(exc).__name__}: {exc}"], "detail": ""}
            ints.append({"name": c.name, **r})
        source = ctx.source
    finally:
        ctx.close()
    res = {
        "bad_inputs_tried": len(outcomes),
        "bad_inputs_clear_error": sum(o.clear for o in outcomes),
        "bad_inputs_state_unchanged": sum(not o.state_changed for o in outcomes),
        "interrupts_tried": len(ints),
        "interrupts_survived": sum(bool(i["survived"]) for i in ints),
        "state_lost": sum(bool(o.state_changed) for o in outcomes) + sum(bool(i["state_lost"]) for i in ints),
        "peak_rss_gb_1m": None,
        "points_shown_5m": None, "notice_5m": None, "max_message_buffer_mb": None, "build_state_s_5m": None,
        "peak_rss_gb_5m": None,
        "data": source,
        "bad_inputs": [{"name": o.name, "where": o.where, "raised": o.raised, "message": o.message,
                        "ok": o.ok, "problems": o.problems} for o in outcomes],
        "interrupts": ints,
    }
    if not skip_large:
        rss = measure_rss(n_rss, dim)
        res["large_1m"] = rss
        res["peak_rss_gb_1m"] = rss.get("rss_gb_peak")
        big = measure_widget(widget_n)
        res["large_widget"] = big
        mb = [big.get("largest_buffer_bytes"), big.get("select_all_largest_buffer_bytes")]
        res.update({
            "points_shown_5m": big.get("points_shown"),
            "notice_5m": big.get("notice"),
            "max_message_buffer_mb": round(max(mb) / 2**20, 3) if None not in mb else None,
            "build_state_s_5m": (round(big["widget_s"] + big["state_s"], 2) if "state_s" in big else None),
            "peak_rss_gb_5m": big.get("rss_gb_peak"),
        })
    return res


def markdown_table(res: dict) -> str:
    """The README table: bad input | where | what happens (exception type and message, or the gap)."""
    def cell(x):
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| bad input | where | what happens |", "|---|---|---|"]
    for o in res["bad_inputs"]:
        msg = o["message"]
        for tmp in ("/tmp/",):
            if tmp in msg:  # the case's temp folder is no part of the message's meaning
                import re

                msg = re.sub(r"/tmp/[^/']+/", "", msg)
        what = f"`{o['raised']}`: {msg}" if o["raised"] else "accepted (gap)"
        if not o["ok"]:
            what += f" **(gap: {'; '.join(o['problems'])})**"
        lines.append(f"| {cell(o['name'])} | `{cell(o['where'])}` | {cell(what)} |")
    lines += ["", "| interrupted work | previous state afterwards |", "|---|---|"]
    for i in res["interrupts"]:
        state = "intact and usable" if i["survived"] else f"**lost: {', '.join(map(str, i['state_lost']))}**"
        lines.append(f"| {cell(i['name'])} | {cell(state)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m modalchorus_widget.bench reliability", description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True, help="where to write the figures")
    ap.add_argument("--n", type=int, default=1_000_000, help="points for the peak-RSS run (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--widget-n", type=int, default=5_000_000, help="points for the widget-only large run")
    ap.add_argument("--skip-large", action="store_true", help="bad inputs and interrupts only")
    ap.add_argument("--table", type=Path, default=None, help="also write the README table (markdown) here")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    res = run_all(args.n, args.dim, args.widget_n, args.skip_large)
    res["seconds"] = round(time.perf_counter() - t, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1, default=str))
    if args.table is not None:
        args.table.write_text(markdown_table(res))
    for o in res["bad_inputs"]:
        if not o["ok"]:
            print(f"BAD INPUT  {o['name']} @ {o['where']}: {'; '.join(o['problems'])}", file=sys.stderr)
    for i in res["interrupts"]:
        if not i["survived"]:
            print(f"INTERRUPT  {i['name']}: lost {i['state_lost']} ({i['detail']})", file=sys.stderr)
    keys = ("bad_inputs_tried", "bad_inputs_clear_error", "interrupts_survived", "interrupts_tried",
            "peak_rss_gb_1m", "state_lost", "points_shown_5m", "notice_5m", "max_message_buffer_mb",
            "build_state_s_5m", "peak_rss_gb_5m")
    print(json.dumps({k: res[k] for k in keys}))
    return 0
