"""The reliability case tables, as plain data: bad inputs and interrupted work.

``BAD_INPUTS``: one ``BadInput`` per bad input a user can hand the public API: the API (``where``), a small
named function that hands it over (``call(ctx)``), the exception types that count as a clear error
(``expect``) and words its message must hold (``words``: what was wrong). ``run_bad_input`` runs one row:
it must raise one of ``expect``, name what was wrong, say how to fix it, and leave the shared objects it
touched (``Ctx``) as they were (compared by ``snapshot`` before and after).

``INTERRUPTS``: one ``InterruptCase`` per kind of interrupted work (KeyboardInterrupt, or an exception,
part-way through MFM fitting, encoding, an alignment round, a save). The interruption is an explicit
``Interrupter`` callback handed to the work: a torch forward pre-hook (``on_forward``) that raises at the
``after + 1``-th forward call of the modules the case watches, or an object the work calls itself. No
function of the package is replaced. ``run_interrupt`` checks that the previous model, positions, sets,
history and files are intact and usable afterwards.

``tests/test_reliability.py`` runs every row as one test and ``python -m benchmarks reliability`` counts
the same rows, so the figures and the tests cannot drift apart.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modalchorus_widget.errors import (
    AlignmentError,
    BufferFormatError,
    CheckpointError,
    EmbeddingError,
    EncoderError,
    ImageDecodeError,
    ModalChorusError,
    ProjectionError,
    SessionError,
    WidgetError,
)

__all__ = [
    "BAD_INPUTS",
    "INTERRUPTS",
    "FIX_WORDS",
    "BadInput",
    "Ctx",
    "InterruptCase",
    "InterruptOutcome",
    "Interrupter",
    "Outcome",
    "diff",
    "on_forward",
    "run_bad_input",
    "run_interrupt",
    "snapshot",
]

# a clear message says how to fix the input: it holds at least one of these
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
                self.es, steps=4, n_reference=32, n_candidates=32, batch_size=32, hidden=8, eval_every=2, random_state=0
            )

        return self._once("aligner", make)

    @property
    def chorus(self):
        def make():
            from modalchorus_widget.widget.chorus import Chorus

            es = self.es
            # named apart from "MFM" so that set_method("MFM") fits a new map (the set_method interrupt case)
            w = Chorus(
                es,
                projector=self.mfm,
                positions=self.mfm.transform(es.vectors),
                method="MFM-small",
                aligner=self.aligner,
            )
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
@dataclass(frozen=True)
class BadInput:
    """One row of the README table: a bad input, the API that receives it, and what must happen."""

    name: str
    where: str
    call: Callable[[Ctx], object]
    expect: tuple
    words: tuple = ()  # each must appear in the message (case-insensitive): says *what* was wrong
    needs: tuple = ()  # shared objects ("es", "mfm", "aligner", "chorus") built before the snapshot

    @property
    def id(self) -> str:
        return f"{self.name} @ {self.where}"


@dataclass
class Outcome:
    name: str
    where: str
    raised: str | None
    message: str
    problems: list = field(default_factory=list)
    state_changed: list = field(default_factory=list)
    modalchorus_error: bool = False  # the error derives from modalchorus_widget.errors.ModalChorusError

    @property
    def clear(self) -> bool:
        return not self.problems

    @property
    def ok(self) -> bool:
        return self.clear and not self.state_changed


def run_bad_input(case: BadInput, ctx: Ctx) -> Outcome:
    """Run one row: it must raise an expected type, name what was wrong, say how to fix it, change nothing."""
    ctx.build(case.needs)
    before = snapshot(ctx)
    raised, msg, problems, ours = None, "", [], False
    try:
        case.call(ctx)
        problems.append("no exception: the bad input was accepted")
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is classified below
        raised, msg, ours = type(exc).__name__, str(exc), isinstance(exc, ModalChorusError)
        if not isinstance(exc, case.expect):
            problems.append(f"raised {raised}, expected one of {[e.__name__ for e in case.expect]}")
    low = msg.lower()
    if raised:
        missing = [w for w in case.words if w.lower() not in low]
        if missing:
            problems.append(f"message does not mention {missing}")
        if not any(w in low for w in FIX_WORDS):
            problems.append("message does not say how to fix it")
        if len(msg) < 25:
            problems.append("message too short to say what and where")
    return Outcome(case.name, case.where, raised, msg, problems, diff(before, snapshot(ctx)), ours)


# --- helpers the bad-input calls share
def _vec(ctx: Ctx, row, col, value) -> np.ndarray:
    """The context's vectors (images then texts) with ``[row, col] = value`` (col None: the whole row)."""
    img, txt, _ = ctx.pairs()
    v = np.concatenate([img, txt])
    v[row if col is None else (row, col)] = value
    return v


def _es(vectors, **kw):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet(vectors, **kw)


def _point_set(*a, **k):
    from modalchorus_widget.alignment import PointSet

    return PointSet(*a, **k)


def _set_set(*a, **k):
    from modalchorus_widget.alignment import SetSet

    return SetSet(*a, **k)


def _chorus(*a, **k):
    from modalchorus_widget.widget.chorus import Chorus

    return Chorus(*a, **k)


def _aligner(*a, **k):
    from modalchorus_widget.alignment import Aligner

    return Aligner(*a, **k)


def _default_encoder(**k):
    from modalchorus_widget.encoders.default import DefaultEncoder

    return DefaultEncoder(**k)  # a private instance: deep mode would tune a shared one in place


def _digit_images(n):
    from sklearn.datasets import load_digits

    return load_digits().images[:n].astype(np.float32)


def _digits_es(n):
    """n digit images embedded by the default model, with no raw items attached."""
    return _es(_default_encoder().encode_images(_digit_images(n)), modality="image")


def _png(size=(16, 16)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", size, 200).save(buf, format="PNG")
    return buf.getvalue()


BROKEN_PNG = b"\x89PNG\r\n\x1a\n garbage"
SURROGATE_TEXT = b"caf\xe9".decode("utf-8", "surrogateescape")  # an undecodable byte, as read with surrogateescape


@contextlib.contextmanager
def small_pixel_limit(limit: int = 1000):
    """PIL's documented ``Image.MAX_IMAGE_PIXELS`` knob, lowered for the block: images over ``2 * limit``
    pixels are refused as decompression bombs (a huge image, cheaply)."""
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _huge_png(ctx) -> Path:
    return ctx.file("huge.png", _png((200, 200)))  # 40,000 pixels > 2 x the limit of small_pixel_limit()


def _weights_copy(ctx, name: str, data: bytes) -> Path:
    """A weights file ``name`` with ``data`` and, beside it, the default model's real config."""
    from modalchorus_widget.encoders.default import CONFIG_FILE

    (ctx.tmp / name).with_suffix(".json").write_bytes(CONFIG_FILE.read_bytes())
    return ctx.file(name, data)


def _one_digit():
    return np.zeros((1, 8, 8), np.float32)


# --- the bad-input calls, one per row: vectors
def nan_in_embeddingset(c):
    return _es(_vec(c, 3, 0, np.nan), modality="image")


def inf_in_embeddingset(c):
    return _es(_vec(c, 5, 1, np.inf), modality="image")


def nan_in_with_vectors(c):
    return c.es.with_vectors(_vec(c, 0, 0, np.nan))


def nan_in_mfm_fit(c):
    return small_mfm(n_steps=2).fit(_vec(c, 2, 2, np.nan), modality=c.es.modality)


def nan_in_mfm_transform(c):
    return c.mfm.transform(_vec(c, 7, 0, np.nan))


def nan_in_aligner_transform(c):
    return c.aligner.transform(_vec(c, 1, 0, np.nan), "image")


def nan_in_positions(c):
    xy = np.array(c.chorus.positions, dtype=np.float32)
    xy[4] = np.nan
    return c.chorus.update_positions(xy)


def nan_in_trustworthiness(c):
    from modalchorus_widget.projection.metrics import trustworthiness

    return trustworthiness(_vec(c, 0, 0, np.nan), np.zeros((2 * c.n_pairs, 2)), k=5)


def zero_in_embeddingset(c):
    return _es(_vec(c, 4, None, 0.0), modality="image")


def zero_in_mfm_transform(c):
    return c.mfm.transform(_vec(c, 9, None, 0.0))


def zero_anchor_vector(c):
    return c.aligner.step(_point_set(np.zeros(c.es.dim, np.float32), np.arange(3)))


def string_vectors(c):
    return _es(np.array([["a", "b"], ["c", "d"]]), modality="image")


def ragged_object_vectors(c):
    return _es(np.array([np.zeros(3), np.zeros(4)], dtype=object), modality="image")


def one_d_vectors(c):
    return _es(np.ones(8, np.float32), modality="image")


def zero_row_vectors(c):
    return _es(np.ones((0, 8), np.float32), modality="image")


def with_vectors_wrong_shape(c):
    return c.es.with_vectors(np.ones((3, c.es.dim), np.float32))


def chorus_positions_n3(c):
    return _chorus(c.es, positions=np.zeros((c.es.n, 3), np.float32))


def chorus_of_ndarray(c):
    return _chorus(c.es.vectors)


def from_pairs_mismatched_dims(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    img, txt, _ = c.pairs()
    return EmbeddingSet.from_pairs(img, txt[:, :256])


def concat_mismatched_dims(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    other = _es(c.pairs()[1][:, :256], modality="text", ids=[f"t{i}" for i in range(c.n_pairs)])
    return EmbeddingSet.concat([c.es, other])


def mfm_transform_other_dim(c):
    return c.mfm.transform(np.ones((4, 7), np.float32))


def aligner_transform_other_dim(c):
    return c.aligner.transform(np.ones((4, 7), np.float32), "text")


def anchor_other_dim(c):
    return c.aligner.step(_point_set(np.ones(7, np.float32), np.arange(3)))


def duplicate_ids(c):
    return _es(c.pairs()[0][:4], modality="image", ids=["a", "b", "a", "c"])


def concat_duplicate_ids(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet.concat([c.es, c.es])


# --- selections and concepts
def empty_point_set(c):
    return c.aligner.step(_point_set(0, []))


def empty_set_set(c):
    return c.aligner.step(_set_set(np.zeros(0, np.int64)))


def chorus_align_empty(c):
    return c.chorus.align(_point_set(0, np.zeros(0, np.uint32)))


def empty_concept_set(c):
    return c.chorus.concept_axis(np.zeros((0, c.es.dim), np.float32), "first")


def anchor_only_selection(c):
    return c.aligner.step(_point_set(2, [2]))


def single_point_set_set(c):
    return c.aligner.step(_set_set([3]))


def one_modality_set_set(c):
    return c.aligner.step(_set_set(np.arange(c.n_pairs)))  # the image rows only


def unknown_anchor_modality(c):
    return c.aligner.step(_point_set(np.ones(c.es.dim, np.float32), np.arange(3), anchor_modality="smell"))


def point_set_out_of_range(c):
    return c.aligner.step(_point_set(0, [1, 10**6]))


def selected_out_of_range(c):
    c.chorus.selected = np.array([0, 10**6])


def concept_text_no_encoder(c):
    return c.chorus.concept_axis("a zebra on ice", "a red car")


def anchor_text_no_encoder(c):
    return c.aligner.step(_point_set("a zebra on ice", np.arange(4)))


def aligner_plain_function_encoder(c):
    return _aligner(c.es, encoder=lambda texts: np.zeros((len(texts), c.es.dim)))


def chorus_plain_function_encoder(c):
    return _chorus(c.es, projector="PCA", encoder=lambda texts: np.zeros((len(texts), c.es.dim)))


def unknown_projection(c):
    from modalchorus_widget.projection.registry import make_projector

    return make_projector("tsne-3d")


def mfm_one_modality(c):
    return small_mfm().fit(c.pairs()[0], modality=["image"] * c.n_pairs)


# --- files
def missing_default_weights(c):
    return _default_encoder(weights=c.tmp / "nope.safetensors").encode_images(_one_digit())


def missing_open_clip_checkpoint(c):
    from modalchorus_widget.encoders.open_clip import OpenCLIPEncoder

    return OpenCLIPEncoder("ViT-B-32", pretrained=str(c.tmp / "nope.pt")).dim


def missing_session(c):
    from modalchorus_widget.widget.chorus import load_session

    return load_session(c.tmp / "nope.zip")


def garbage_default_weights(c):
    w = _weights_copy(c, "corrupt_digits.safetensors", b"\x93NUMPY not a safetensors file" * 10)
    return _default_encoder(weights=w).encode_images(_one_digit())


def truncated_default_weights(c):
    from modalchorus_widget.encoders.default import WEIGHTS_FILE

    data = WEIGHTS_FILE.read_bytes()
    w = _weights_copy(c, "truncated_digits.safetensors", data[: len(data) // 2])
    return _default_encoder(weights=w).encode_images(_one_digit())


def corrupt_aligner_file(c):
    from modalchorus_widget.alignment import Aligner

    return Aligner.load(c.file("bad_aligner.bin", b"PK\x03\x04 garbage"))


def corrupt_mfm_file(c):
    from modalchorus_widget.projection.mfm import MFM

    return MFM.load(c.file("bad_map.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json"))


def corrupt_session_file(c):
    from modalchorus_widget.widget.chorus import load_session

    return load_session(c.file("bad.mcsession", b"not a zip at all" * 4))


def unknown_session_version(c):
    from modalchorus_widget.widget.chorus import load_session

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "modalchorus-session", "version": 999}))
    return load_session(c.file("v999.mcsession", buf.getvalue()))


def corrupt_embeddings_file(c):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet.load(c.file("bad.npz", b"PK\x03\x04 garbage"))


# --- images and text
def undecodable_thumbnail(c):
    from modalchorus_widget.data.embeddings import make_thumbnail

    return make_thumbnail(c.file("broken.png", BROKEN_PNG))


def undecodable_default_encoder(c):
    return _default_encoder().encode_images([c.file("broken.png", BROKEN_PNG)])


def undecodable_to_pil(c):
    from modalchorus_widget.encoders.open_clip import to_pil

    return to_pil(c.file("broken.png", BROKEN_PNG))


def huge_thumbnail(c):
    from modalchorus_widget.data.embeddings import make_thumbnail

    p = _huge_png(c)
    with small_pixel_limit():
        return make_thumbnail(p)


def huge_default_encoder(c):
    p = _huge_png(c)
    with small_pixel_limit():
        return _default_encoder().encode_images([p])


def huge_to_pil(c):
    from modalchorus_widget.encoders.open_clip import to_pil

    p = _huge_png(c)
    with small_pixel_limit():
        return to_pil(p)


def bytes_text(c):
    return _default_encoder().encode_texts(["a cat", b"caf\xe9 \xff"])


def surrogate_text(c):
    return _default_encoder().encode_texts(["a cat", SURROGATE_TEXT])


def surrogate_captions(c):
    return _es(c.pairs()[1][:2], modality="text", items=["ok", SURROGATE_TEXT]).save(c.tmp / "s.npz")


# --- metadata and modes
def meta_wrong_length(c):
    return _es(c.pairs()[0][:6], modality="image", meta={"x": list(range(5))})


def labels_wrong_length(c):
    return _es(c.pairs()[0][:6], modality="image", labels=["a"] * 7)


def unknown_modality_name(c):
    return _es(c.pairs()[0][:3], modality=["image", "txt", "image"])


def deep_without_encoder(c):
    return _aligner(c.es, mode="deep")


def deep_without_raw_inputs(c):
    return _aligner(_digits_es(6), mode="deep", encoder=_default_encoder())


def deep_wrong_raw_count(c):
    return _aligner(_digits_es(6), mode="deep", encoder=_default_encoder(), images=_digit_images(5))


def unknown_colour_column(c):
    return c.chorus.set_color_by("no_such_column")


VE, TE, FNF = ValueError, TypeError, FileNotFoundError
ES, MFM_, AL, CH = ("es",), ("mfm",), ("aligner",), ("chorus",)
B = BadInput

BAD_INPUTS: list[BadInput] = [
    # ---- vectors: NaN / inf / zero
    B("NaN in vectors", "EmbeddingSet(vectors)", nan_in_embeddingset, (EmbeddingError,), ("nan",)),
    B("inf in vectors", "EmbeddingSet(vectors)", inf_in_embeddingset, (EmbeddingError,), ("inf",)),
    B("NaN in vectors", "EmbeddingSet.with_vectors", nan_in_with_vectors, (EmbeddingError,), ("nan",), ES),
    B("NaN in vectors", "MFM.fit", nan_in_mfm_fit, (ProjectionError,), ("nan",)),
    B("NaN in vectors", "MFM.transform", nan_in_mfm_transform, (ProjectionError,), ("nan",), MFM_),
    B("NaN in vectors", "Aligner.transform", nan_in_aligner_transform, (AlignmentError,), ("nan",), AL),
    B("NaN in positions", "Chorus.update_positions", nan_in_positions, (BufferFormatError,), ("finite",), CH),
    B("NaN in vectors", "metrics.trustworthiness", nan_in_trustworthiness, (ProjectionError,), ("nan",)),
    B("zero vector", "EmbeddingSet(vectors)", zero_in_embeddingset, (EmbeddingError,), ("zero",)),
    B("zero vector", "MFM.transform", zero_in_mfm_transform, (ProjectionError,), ("zero",), MFM_),
    B("zero vector", "PointSet anchor vector", zero_anchor_vector, (AlignmentError,), ("zero",), AL),
    # ---- vectors: dtype / shape / dimension
    B("wrong dtype (strings)", "EmbeddingSet(vectors)", string_vectors, (EmbeddingError,), ("dtype",)),
    B("wrong dtype (object rows)", "EmbeddingSet(vectors)", ragged_object_vectors, (EmbeddingError,), ("dtype",)),
    B("wrong shape (1-D)", "EmbeddingSet(vectors)", one_d_vectors, (EmbeddingError,), ("shape",)),
    B("wrong shape (0 rows)", "EmbeddingSet(vectors)", zero_row_vectors, (EmbeddingError,), ("empty",)),
    B("wrong shape", "EmbeddingSet.with_vectors", with_vectors_wrong_shape, (EmbeddingError,), ("shape",), ES),
    B("wrong shape (n, 3) positions", "Chorus(positions=...)", chorus_positions_n3, (BufferFormatError,), ("shape",)),
    B(
        "wrong type (ndarray, not EmbeddingSet)",
        "Chorus(embeddings)",
        chorus_of_ndarray,
        (WidgetError,),
        ("embeddingset",),
    ),
    B(
        "mismatched dimensions between modalities",
        "EmbeddingSet.from_pairs",
        from_pairs_mismatched_dims,
        (EmbeddingError,),
        ("dimension",),
    ),
    B(
        "mismatched dimensions between sets",
        "EmbeddingSet.concat",
        concat_mismatched_dims,
        (EmbeddingError,),
        ("dimension",),
        ES,
    ),
    B(
        "vectors of another dimension",
        "MFM.transform",
        mfm_transform_other_dim,
        (ProjectionError,),
        ("dimension",),
        MFM_,
    ),
    B("vectors of another dimension", "Aligner.transform", aligner_transform_other_dim, (AlignmentError,), ("7",), AL),
    B("anchor vector of another dimension", "PointSet anchor", anchor_other_dim, (AlignmentError,), ("dimension",), AL),
    B("duplicate ids", "EmbeddingSet(ids)", duplicate_ids, (EmbeddingError,), ("duplicate",)),
    B("duplicate ids across sets", "EmbeddingSet.concat", concat_duplicate_ids, (EmbeddingError,), ("ids",), ES),
    # ---- selections
    B("empty selection", "Aligner.step(PointSet)", empty_point_set, (AlignmentError,), ("empty",), AL),
    B("empty selection", "Aligner.step(SetSet)", empty_set_set, (AlignmentError,), ("empty",), AL),
    B(
        "empty selection",
        "Chorus.align(PointSet(anchor, w.selected=[]))",
        chorus_align_empty,
        (AlignmentError,),
        ("empty",),
        CH,
    ),
    B("empty set as concept", "Chorus.concept_axis", empty_concept_set, (WidgetError, ProjectionError), ("empty",), CH),
    B(
        "single-point selection (only the anchor)",
        "Aligner.step(PointSet)",
        anchor_only_selection,
        (AlignmentError,),
        ("anchor",),
        AL,
    ),
    B("single-point selection", "Aligner.step(SetSet(a))", single_point_set_set, (AlignmentError,), ("modalit",), AL),
    B(
        "selection of one modality for a cross-modal loss",
        "Aligner.step(SetSet(a) split by modality)",
        one_modality_set_set,
        (AlignmentError,),
        ("modalit",),
        AL,
    ),
    B(
        "unknown modality for a loss",
        "PointSet(anchor_modality=...)",
        unknown_anchor_modality,
        (AlignmentError,),
        ("modality",),
        AL,
    ),
    B("selection out of range", "Aligner.step(PointSet)", point_set_out_of_range, (AlignmentError,), ("indices",), AL),
    B("selection out of range", "Chorus.selected", selected_out_of_range, (BufferFormatError,), ("range",), CH),
    # ---- text without an encoder, encoders that are not Encoders
    B(
        "unknown concept text, no encoder",
        "Chorus.concept_axis",
        concept_text_no_encoder,
        (WidgetError,),
        ("encoder",),
        CH,
    ),
    B(
        "unknown anchor text, no encoder",
        "Aligner.step(PointSet('text', ...))",
        anchor_text_no_encoder,
        (AlignmentError,),
        ("encoder",),
        AL,
    ),
    B(
        "plain function as encoder",
        "Aligner(encoder=...)",
        aligner_plain_function_encoder,
        (EncoderError,),
        ("FunctionEncoder",),
    ),
    B(
        "plain function as encoder",
        "Chorus(encoder=...)",
        chorus_plain_function_encoder,
        (EncoderError,),
        ("FunctionEncoder",),
    ),
    # ---- projections
    B("unknown projection name", "make_projector", unknown_projection, (ProjectionError,), ("tsne-3d",)),
    B("single modality for a fusing projector", "MFM.fit", mfm_one_modality, (ProjectionError,), ("modalities",)),
    # ---- files
    B("missing checkpoint", "DefaultEncoder(weights=...)", missing_default_weights, (FNF,), ("nope",)),
    B("missing checkpoint", "OpenCLIPEncoder(pretrained=FILE)", missing_open_clip_checkpoint, (FNF,), ("nope.pt",)),
    B("missing checkpoint", "load_session", missing_session, (FNF,), ("nope.zip",)),
    B(
        "corrupt checkpoint (garbage bytes)",
        "DefaultEncoder(weights=...)",
        garbage_default_weights,
        (CheckpointError,),
        ("corrupt_digits",),
    ),
    B(
        "corrupt checkpoint (truncated)",
        "DefaultEncoder(weights=...)",
        truncated_default_weights,
        (CheckpointError,),
        ("truncated_digits",),
    ),
    B("corrupt checkpoint", "Aligner.load", corrupt_aligner_file, (AlignmentError,), ("bad_aligner",)),
    B("corrupt checkpoint", "MFM.load", corrupt_mfm_file, (SessionError,), ("bad_map",)),
    B("corrupt session file", "load_session", corrupt_session_file, (SessionError,), ("bad.mcsession",)),
    B(
        "session of an unknown format version",
        "load_session",
        unknown_session_version,
        (SessionError,),
        ("version 999",),
    ),
    B("corrupt embeddings file", "EmbeddingSet.load", corrupt_embeddings_file, (EmbeddingError,), ("bad.npz",)),
    # ---- images
    B(
        "undecodable image file",
        "make_thumbnail / Chorus tooltip",
        undecodable_thumbnail,
        (EmbeddingError,),
        ("broken.png",),
    ),
    B(
        "undecodable image file",
        "DefaultEncoder.encode_images",
        undecodable_default_encoder,
        (ImageDecodeError,),
        ("broken.png",),
    ),
    B(
        "undecodable image file",
        "OpenCLIPEncoder.encode_images (to_pil)",
        undecodable_to_pil,
        (ImageDecodeError,),
        ("broken.png",),
    ),
    B(
        "huge image (decompression bomb)",
        "make_thumbnail / Chorus tooltip",
        huge_thumbnail,
        (EmbeddingError,),
        ("huge.png", "pixels"),
    ),
    B(
        "huge image (decompression bomb)",
        "DefaultEncoder.encode_images",
        huge_default_encoder,
        (ImageDecodeError,),
        ("huge.png", "pixels"),
    ),
    B(
        "huge image (decompression bomb)",
        "OpenCLIPEncoder.encode_images (to_pil)",
        huge_to_pil,
        (ImageDecodeError,),
        ("huge.png", "pixels"),
    ),
    # ---- text
    B("non-UTF-8 text (bytes)", "Encoder.encode_texts", bytes_text, (TE, VE), ("bytes",)),
    B("non-UTF-8 text (undecodable surrogates)", "Encoder.encode_texts", surrogate_text, (VE,), ("utf-8",)),
    B(
        "non-UTF-8 text (undecodable surrogates) in captions",
        "EmbeddingSet(items / labels / ids)",
        surrogate_captions,
        (EmbeddingError,),
        ("utf-8",),
    ),
    # ---- metadata, modalities, modes
    B(
        "metadata frame of the wrong length",
        "EmbeddingSet(meta)",
        meta_wrong_length,
        (EmbeddingError,),
        ("meta", "5", "6"),
    ),
    B("labels of the wrong length", "EmbeddingSet(labels)", labels_wrong_length, (EmbeddingError,), ("labels", "7")),
    B("unknown modality name", "EmbeddingSet(modality)", unknown_modality_name, (EmbeddingError,), ("txt",)),
    B(
        "deep mode without an encoder to tune",
        "Aligner(mode='deep')",
        deep_without_encoder,
        (AlignmentError,),
        ("encoder", "mode='fast'"),
    ),
    B(
        "deep mode without raw inputs",
        "Aligner(mode='deep', encoder=DefaultEncoder())",
        deep_without_raw_inputs,
        (AlignmentError,),
        ("images=",),
    ),
    B(
        "deep mode with raw inputs of the wrong count",
        "Aligner(mode='deep', images=...)",
        deep_wrong_raw_count,
        (AlignmentError,),
        ("5", "6"),
    ),
    B("unknown colour column", "Chorus.set_color_by", unknown_colour_column, (WidgetError,), ("no_such_column",), CH),
]
del B


# ------------------------------------------------------------------------------------------ interrupts
class Interrupt(RuntimeError):
    """The exception the interrupt cases inject (beside KeyboardInterrupt)."""


class Interrupter:
    """The explicit interruption handed to a case's work: calling it ``after`` times is fine, the next call
    raises ``exc``. Works as a torch forward pre-hook (see ``on_forward``) or as a plain callback."""

    def __init__(self, exc: type[BaseException], after: int = 0):
        self.exc, self.after, self.calls, self.fired = exc, after, 0, False

    def __call__(self, *_args):
        self.calls += 1
        if self.calls > self.after:
            self.fired = True
            raise self.exc("injected interrupt")


@contextlib.contextmanager
def on_forward(interrupter: Interrupter, watch: Callable[[object], bool]):
    """Call ``interrupter`` before the forward pass of every torch module for which ``watch(module)`` is true
    (torch's global ``register_module_forward_pre_hook``; removed on exit)."""
    from torch.nn.modules.module import register_module_forward_pre_hook

    def hook(module, inputs):
        if watch(module):
            interrupter(module, inputs)

    handle = register_module_forward_pre_hook(hook)
    try:
        yield interrupter
    finally:
        handle.remove()


def is_sequential(module) -> bool:
    """MFM's network and the default model's image tower are ``torch.nn.Sequential``: one call per step/batch."""
    import torch

    return type(module) is torch.nn.Sequential


def is_adapter(module) -> bool:
    """A fast-mode alignment adapter (one call per modality per training step)."""
    return type(module).__name__ == "Bottleneck"


@dataclass(frozen=True)
class InterruptCase:
    """Work interrupted part-way: ``work(ctx, interrupter)`` arms the interrupter and does the work;
    ``verify(ctx, before)`` returns what was lost beyond the snapshot entries under ``keys``."""

    name: str
    exc: type[BaseException]
    after: int
    work: Callable[[Ctx, Interrupter], object]
    keys: tuple = ()  # snapshot prefixes that must be unchanged afterwards
    verify: Callable[[Ctx, dict], list] | None = None
    needs: tuple = ()
    known_bug: str = ""  # a package bug this case shows (the test is an expected failure until it is fixed)


@dataclass
class InterruptOutcome:
    name: str
    interrupted: str | None  # the exception that came out of the work (None: it was not interrupted)
    fired: bool  # the interrupter raised
    state_lost: list = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return self.interrupted is not None and self.fired and not self.state_lost

    @property
    def detail(self) -> str:
        return f"interrupted with {self.interrupted}" if self.interrupted else "nothing (not interrupted)"


def run_interrupt(case: InterruptCase, ctx: Ctx) -> InterruptOutcome:
    ctx.build(case.needs)
    before = snapshot(ctx)
    trigger = Interrupter(case.exc, case.after)
    caught = None
    try:
        case.work(ctx, trigger)
    except (KeyboardInterrupt, Interrupt) as exc:
        caught = type(exc).__name__
    lost = [k for k in diff(before, snapshot(ctx)) if k.startswith(case.keys)] if case.keys else []
    if case.verify is not None:
        lost += case.verify(ctx, before)
    return InterruptOutcome(case.name, caught, trigger.fired, lost)


# --- the work of each interrupt case, and what it checks afterwards
def refit_mfm(c, trigger):
    """Refit the context's fitted MFM; the 6th training step raises."""
    with on_forward(trigger, is_sequential):
        c.mfm.fit(c.es)


def mfm_usable(c, before) -> list:
    ok = np.allclose(c.mfm.transform(c.es.vectors), before["mfm.embedding_"], atol=1e-5)
    return [] if ok else ["mfm.transform output"]


def switch_method(c, trigger):
    """Chorus.set_method("MFM") fits a new MFM; its 4th forward pass raises."""
    with on_forward(trigger, is_sequential):
        c.chorus.set_method("MFM")


def no_half_fitted_method(c, before) -> list:
    st = c.chorus.state
    lost = ["half-fitted positions cached"] if "MFM" in st.positions else []
    if "MFM" in st.projectors:
        lost.append("half-fitted projector kept")
    return lost


_DIGITS = np.random.default_rng(0).uniform(0, 16, size=(64, 8, 8)).astype(np.float32)


def encode_digits(c, trigger):
    """DefaultEncoder.encode_images in batches of 8; batch 3 raises. Stores the encoder and its answer
    before the interrupt for ``encoder_usable``."""
    enc = _default_encoder()
    c.scratch["encoder"] = enc, enc.encode_images(_DIGITS, batch_size=16)
    with on_forward(trigger, is_sequential):
        enc.encode_images(_DIGITS, batch_size=8, progress=False)


def encoder_usable(c, before) -> list:
    enc, ref = c.scratch.pop("encoder")
    return [] if np.allclose(enc.encode_images(_DIGITS, batch_size=16), ref, atol=1e-6) else ["encoder output"]


def align_round(c, trigger):
    """Aligner.step on the aligner with one good round; the 5th adapter call of its training raises."""
    from modalchorus_widget.alignment import PointSet

    with on_forward(trigger, is_adapter):
        c.aligned.step(PointSet(c.n_pairs + 1, np.arange(4, 9)))


def aligner_usable(c, before) -> list:
    """Undo and redo still work and give back the vectors of before the interrupt."""
    a = c.aligned
    lost = []
    n = len(a.history_)
    a.undo()
    a.redo()
    if len(a.history_) != n or not np.array_equal(a.embeddings_.vectors, before["aligner.vectors"]):
        lost.append("undo/redo after the interrupt")
    return lost


def chorus_align_training(c, trigger):
    """Chorus.align interrupted inside the aligner's training."""
    from modalchorus_widget.alignment import PointSet

    with on_forward(trigger, is_adapter):
        c.chorus.align(PointSet(c.n_pairs + 2, np.arange(10, 14)))


def chorus_align_placing(c, trigger):
    """Chorus.align interrupted after the round, while the MFM on show places the new vectors."""
    from modalchorus_widget.alignment import PointSet

    mfm_modules = set(c.mfm.network_.modules())
    with on_forward(trigger, lambda m: m in mfm_modules):
        c.chorus.align(PointSet(c.n_pairs + 2, np.arange(10, 14)))


def chorus_round_not_kept(c, before) -> list:
    """Named for the report: the aligner's history and the widget's round count stay in step."""
    n = len(c.aligner.history_)
    return (
        []
        if n == before["aligner.rounds"]
        else [f"aligner history has {n} rounds, the widget {before['aligner.rounds']}"]
    )


def _failing_map(c):
    """A fitted MFM (a copy of the context's) whose ``to_bytes`` calls ``self.interrupt`` first."""
    from modalchorus_widget.projection.mfm import MFM

    class MapThatFailsToSave(MFM):
        interrupt = None

        def to_bytes(self):
            if self.interrupt is not None:
                self.interrupt()
            return super().to_bytes()

    return MapThatFailsToSave.from_bytes(c.mfm.to_bytes())


def save_over_session(c, trigger):
    """Chorus.save over a good session file; writing the map raises."""
    es = c.es
    m = _failing_map(c)
    w = _chorus(es, projector=m, positions=c.mfm.transform(es.vectors), method="MFM")
    w.sets["first"] = np.arange(5)
    path = c.tmp / "good.mcsession"
    w.save(path)
    c.scratch["file"] = path, path.read_bytes(), np.array(w.positions)
    w.sets["second"] = np.arange(5, 9)
    m.interrupt = trigger
    w.save(path)


def previous_file_loadable(c, before) -> list:
    from modalchorus_widget.widget.chorus import load_session

    path, data, positions = c.scratch.pop("file")
    lost = []
    if path.read_bytes() != data:
        lost.append("the previous session file was changed")
    leftovers = [p.name for p in path.parent.glob(f".{path.name}.*")]
    if leftovers:
        lost.append(f"temp files left behind: {leftovers}")
    try:
        w = load_session(path)
    except Exception as exc:  # noqa: BLE001 - not loadable is what this reports
        return lost + [f"the previous session file does not load: {type(exc).__name__}: {exc}"]
    if not np.array_equal(np.asarray(w.positions), positions) or sorted(w.sets) != ["first"]:
        lost.append("the previous session file loads other content")
    return lost


IC = InterruptCase
MFM_KEYS, CHORUS_KEYS = ("mfm", "torch"), ("chorus", "aligner")
INTERRUPTS: list[InterruptCase] = [
    IC(
        "KeyboardInterrupt during MFM.fit (training step 6)",
        KeyboardInterrupt,
        5,
        refit_mfm,
        MFM_KEYS,
        mfm_usable,
        MFM_,
    ),
    IC("exception during MFM.fit (training step 6)", Interrupt, 5, refit_mfm, MFM_KEYS, mfm_usable, MFM_),
    IC(
        "KeyboardInterrupt during Chorus.set_method (new projection being fitted)",
        KeyboardInterrupt,
        3,
        switch_method,
        ("chorus",),
        no_half_fitted_method,
        CH,
    ),
    IC(
        "KeyboardInterrupt during DefaultEncoder.encode_images (batch 3)",
        KeyboardInterrupt,
        2,
        encode_digits,
        (),
        encoder_usable,
    ),
    IC("exception during DefaultEncoder.encode_images (batch 3)", Interrupt, 2, encode_digits, (), encoder_usable),
    IC(
        "KeyboardInterrupt during Aligner.step (adapter training, 5th adapter call)",
        KeyboardInterrupt,
        4,
        align_round,
        ("aligner",),
        aligner_usable,
        ("aligned",),
    ),
    IC(
        "exception during Aligner.step (adapter training, 5th adapter call)",
        Interrupt,
        4,
        align_round,
        ("aligner",),
        aligner_usable,
        ("aligned",),
    ),
    IC(
        "exception during Chorus.align (aligner training)",
        Interrupt,
        4,
        chorus_align_training,
        CHORUS_KEYS,
        chorus_round_not_kept,
        CH,
    ),
    IC(
        "KeyboardInterrupt during Chorus.align (aligner training)",
        KeyboardInterrupt,
        4,
        chorus_align_training,
        CHORUS_KEYS,
        chorus_round_not_kept,
        CH,
    ),
    IC(
        "exception during Chorus.align (re-placing points after the round)",
        Interrupt,
        0,
        chorus_align_placing,
        CHORUS_KEYS,
        chorus_round_not_kept,
        CH,
    ),
    IC(
        "KeyboardInterrupt during Chorus.save over a good file (writing the map)",
        KeyboardInterrupt,
        0,
        save_over_session,
        (),
        previous_file_loadable,
        MFM_,
    ),
]
del IC


# ------------------------------------------------------------------------------------------ hostile files
# Files from elsewhere, made by hand: each must be refused with UntrustedFileError (says why and how to
# proceed) before it is inflated or executed, and the shared objects must stay as they were.
def _zip(members: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name) if isinstance(name, str) else name, data)
    return buf.getvalue()


def _good_session(c) -> bytes:
    """A real session file of the shared Chorus, as bytes (made once)."""
    p = c.tmp / "good_hostile_base.mcsession"
    if not p.exists():
        c.chorus.save(p)
    return p.read_bytes()


def _members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _edited_session(c, **edits) -> bytes:
    """The good session with members replaced (value bytes) or removed (value None)."""
    m = _members(_good_session(c))
    for k, v in edits.items():
        k = k.replace("__", ".")
        if v is None:
            m.pop(k, None)
        else:
            m[k] = v
    return _zip(m)


def _manifest_edit(c, **fields) -> bytes:
    man = json.loads(_members(_good_session(c))["manifest.json"])
    man.update(fields)
    return _edited_session(c, manifest__json=json.dumps(man).encode())


def write_zip_bomb(path: Path, gib: float = 10.0, claim: int | None = None, name: str = "embeddings.npz") -> Path:
    """A zip whose one member really inflates to ``gib`` GiB of zeros (a deflate stream made of one repeated
    full-flushed block, so building it costs ~10 MB and a second); ``claim``: the size its directory states
    (default: the true one, zip64). The CRC is not that of the data: refusal must come before it is checked."""
    import struct
    import zlib

    block = 1 << 20
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = co.compress(bytes(block)) + co.flush(zlib.Z_FULL_FLUSH)
    n_blocks = int(gib * 1024)
    tail = co.flush()
    comp_size = len(piece) * n_blocks + len(tail)
    size = n_blocks * block if claim is None else int(claim)
    fname = name.encode()
    extra = struct.pack("<HHQQ", 1, 16, size, comp_size)
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(extra)
    )
    with open(path, "wb") as f:
        f.write(local + fname + extra)
        for _ in range(n_blocks):
            f.write(piece)
        f.write(tail)
        cd_offset = f.tell()
        central = struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            45,
            45,
            0,
            8,
            0,
            0x21,
            0,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(fname),
            len(extra),
            0,
            0,
            0,
            0,
            0,
        )
        f.write(central + fname + extra)
        cd_size = f.tell() - cd_offset
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, cd_size, cd_offset, 0))
    return path


def _bomb_session(c, gib=0.05, claim=None) -> bytes:
    """A session whose manifest is fine and whose embeddings member is a bomb of ``gib`` GiB."""
    p = write_zip_bomb(c.tmp / "bomb_member.zip", gib=gib, claim=claim)
    with zipfile.ZipFile(p) as z:  # the raw bomb member copied into a zip with a good manifest
        raw_info = z.infolist()[0]
    data = p.read_bytes()
    man = _members(_good_session(c))["manifest.json"]
    # append manifest.json as a second member: rebuild the archive by hand from the bomb's bytes
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("manifest.json", man)
    del raw_info
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _lying_npz() -> bytes:
    """An .npz (valid zip, valid CRC) whose positions.npy header claims 9,999,999 rows but holds 4."""
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 2), np.float32), allow_pickle=False)
    npy = buf.getvalue().replace(b"(4, 2)", b"(9999999, 2)")
    return _zip({"positions.npy": npy}, zipfile.ZIP_STORED)


def _load_session_bytes(c, name: str, data: bytes):
    from modalchorus_widget.widget.chorus import Chorus

    return Chorus.load(c.file(name, data))


def _aligner_with(c, **meta_edits) -> bytes:
    p = c.tmp / "good_hostile.aligner"
    if not p.exists():
        c.aligner.save(p)
    m = _members(p.read_bytes())
    meta = json.loads(m["aligner.json"])
    meta.update(meta_edits)
    m["aligner.json"] = json.dumps(meta).encode()
    return _zip(m)


@dataclass(frozen=True)
class HostileFile:
    """One hostile file: ``make(ctx) -> bytes`` builds it, ``load(ctx, path)`` hands it to the loader."""

    name: str
    where: str
    make: Callable[[Ctx], bytes]
    load: Callable[[Ctx, Path], object]
    words: tuple = ()
    suffix: str = ".bin"
    limit: int | None = None  # safe_zip.MAX_BYTES while loading (a small bomb then stands for a big one)


def _as_session(c, p):
    from modalchorus_widget.widget.chorus import Chorus

    return Chorus.load(p)


def _as_aligner(c, p):
    from modalchorus_widget.alignment import Aligner

    return Aligner.load(p)


def _as_embeddings(c, p):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet.load(p)


def _as_mfm(c, p):
    from modalchorus_widget.projection.mfm import MFM

    return MFM.from_bytes(p.read_bytes(), str(p))


def _as_cmcr(c, p):
    from modalchorus_widget.cmcr.model import CMCR

    return CMCR.load(p)


def _mfm_edit(c, **param_edits) -> bytes:
    from safetensors.numpy import load, save

    data = c.mfm.to_bytes()
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["modalchorus"])
    meta["params"].update(param_edits)
    return save(load(data), metadata={"modalchorus": json.dumps(meta)})


def _safetensors_lying_header(c) -> bytes:
    data = c.mfm.to_bytes()
    return (10**12).to_bytes(8, "little") + data[8:]


def _cmcr_file(c, **param_edits) -> bytes:
    from safetensors.torch import save

    header = {"format": "modalchorus-cmcr", "version": 1, "params": {"evil": 1, **param_edits}}
    import torch

    return save({"p1.w": torch.zeros(2)}, metadata={"cmcr": json.dumps(header)})


H = HostileFile
HOSTILE_FILES: list[HostileFile] = [
    H(
        "zip bomb: 50 MiB of zeros in a 50 KB member, over a 16 MiB limit (the bench refuses a 10 GiB one)",
        "Chorus.load",
        lambda c: _bomb_session(c, gib=0.05),
        _as_session,
        ("before inflating",),
        ".mcsession",
        16 << 20,
    ),
    H(
        "zip bomb: directory lies (claims 1 KB, inflates to 50 MiB)",
        "Chorus.load",
        lambda c: _bomb_session(c, gib=0.05, claim=1000),
        _as_session,
        ("does not hold what",),
        ".mcsession",
    ),
    H(
        "absolute member name",
        "Chorus.load",
        lambda c: _edited_session(c, **{"/etc/passwd": b"x"}),
        _as_session,
        ("/etc/passwd",),
        ".mcsession",
    ),
    H(
        "member name with ..",
        "Chorus.load",
        lambda c: _edited_session(c, **{"../../evil.npz": b"x"}),
        _as_session,
        ("..",),
        ".mcsession",
    ),
    H(
        "5,000 members",
        "Chorus.load",
        lambda c: _zip({f"m{i}": b"" for i in range(5000)}),
        _as_session,
        ("5,000 members",),
        ".mcsession",
    ),
    H(
        "pickled object array in state.npz",
        "Chorus.load",
        lambda c: _edited_session(c, state__npz=_npz(positions=np.array([{"a": 1}], dtype=object))),
        _as_session,
        ("pickle",),
        ".mcsession",
    ),
    H(
        "npy header claims more rows than it holds",
        "Chorus.load",
        lambda c: _edited_session(c, state__npz=_lying_npz()),
        _as_session,
        ("claims",),
        ".mcsession",
    ),
    H(
        "unknown projector parameter in manifest",
        "Chorus.load",
        lambda c: _manifest_edit(c, projector={"name": "PCA", "params": {"__class__": "os.system"}}),
        _as_session,
        ("__class__",),
        ".mcsession",
    ),
    H(
        "unknown projection method in manifest",
        "Chorus.load",
        lambda c: _manifest_edit(c, projector={"name": "os.system", "params": {}}),
        _as_session,
        ("os.system",),
        ".mcsession",
    ),
    H(
        "manifest field of the wrong kind",
        "Chorus.load",
        lambda c: _manifest_edit(c, set_names="rm -rf"),
        _as_session,
        ("set_names",),
        ".mcsession",
    ),
    H(
        "manifest claims another point count",
        "Chorus.load",
        lambda c: _manifest_edit(c, n=7),
        _as_session,
        ("claims",),
        ".mcsession",
    ),
    H(
        "unknown Aligner parameter",
        "Aligner.load",
        lambda c: _aligner_with(c, params={"mode": "fast", "evil": 1}),
        _as_aligner,
        ("evil",),
        ".aligner",
    ),
    H(
        "zip bomb as an Aligner file",
        "Aligner.load",
        lambda c: write_zip_bomb(c.tmp / "b.aligner", gib=0.05, name="aligner.json").read_bytes(),
        _as_aligner,
        ("before inflating",),
        ".aligner",
        16 << 20,
    ),
    H(
        "zip bomb as an EmbeddingSet file",
        "EmbeddingSet.load",
        lambda c: write_zip_bomb(c.tmp / "b.npz", gib=0.05, claim=100, name="vectors.npy").read_bytes(),
        _as_embeddings,
        ("does not hold what",),
        ".npz",
    ),
    H(
        "pickled vectors in an EmbeddingSet file",
        "EmbeddingSet.load",
        lambda c: _npz(vectors=np.array([None, 1], dtype=object), header=np.zeros(2, np.uint8)),
        _as_embeddings,
        ("pickle",),
        ".npz",
    ),
    H("unknown MFM parameter", "MFM.from_bytes", lambda c: _mfm_edit(c, evil=1), _as_mfm, ("evil",), ".safetensors"),
    H(
        "MFM hidden layer of 10^9 units",
        "MFM.from_bytes",
        lambda c: _mfm_edit(c, hidden=[10**9]),
        _as_mfm,
        ("layer sizes",),
        ".safetensors",
    ),
    H(
        "safetensors header longer than the file",
        "MFM.from_bytes",
        _safetensors_lying_header,
        _as_mfm,
        ("header claims",),
        ".safetensors",
    ),
    H("unknown C-MCR parameter", "CMCR.load", lambda c: _cmcr_file(c), _as_cmcr, ("evil",), ".safetensors"),
]
del H


@contextlib.contextmanager
def byte_limit(limit):
    """``safe_zip.MAX_BYTES`` (the documented knob) set to ``limit`` for the block (None: unchanged)."""
    from modalchorus_widget.data import safe_zip

    old = safe_zip.MAX_BYTES
    safe_zip.MAX_BYTES = old if limit is None else int(limit)
    try:
        yield
    finally:
        safe_zip.MAX_BYTES = old


@dataclass
class HostileOutcome:
    name: str
    where: str
    raised: str | None
    message: str
    refused: bool
    state_changed: list = field(default_factory=list)


def run_hostile_file(case: HostileFile, ctx: Ctx) -> HostileOutcome:
    from modalchorus_widget.errors import UntrustedFileError

    ctx.build(("chorus",))
    data = case.make(ctx)
    path = ctx.file("hostile" + case.suffix, data)
    before = snapshot(ctx)
    raised, msg, refused = None, "", False
    try:
        with byte_limit(case.limit):
            case.load(ctx, path)
    except Exception as exc:  # noqa: BLE001 - classified below
        raised, msg = type(exc).__name__, str(exc)
        low = msg.lower()
        refused = (
            isinstance(exc, UntrustedFileError)
            and all(w.lower() in low for w in case.words)
            and any(w in low for w in FIX_WORDS + ("trust", "raise"))
        )
    return HostileOutcome(case.name, case.where, raised, msg, refused, diff(before, snapshot(ctx)))


# ------------------------------------------------------------------------------------------ comm fuzzing
def fuzz_comm(widget, n_cases: int = 1000, seed: int = 0) -> dict:
    """Hypothesis-made garbage and out-of-protocol comm messages into ``widget._handle_msg`` (the entry of
    every front-end message: custom messages and state updates with buffers). Counts the cases, the
    exceptions that escaped, and the cases that were neither refused (exactly one warning on the
    "modalchorus_widget" logger, synced state unchanged) nor accepted (a well-formed message, applied
    without a warning): ``state_changed`` (refused but changed state) and ``not_one_warning``."""
    import logging

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    keys = ["selected", "named_sets", "positions", "category", "color_by", "method", "nope", "point_size"]
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True),
        st.text(max_size=12),
        st.binary(max_size=24),
    )
    junk = st.recursive(
        scalar, lambda s: st.lists(s, max_size=4) | st.dictionaries(st.text(max_size=6), s, max_size=4), max_leaves=8
    )
    custom = st.fixed_dictionaries(
        {"type": st.sampled_from(["hover", "method", "color_by", "concept_axis", "lasso", "", "align"]) | junk},
        optional={"index": junk | st.integers(-(2**40), 2**40), "method": junk, "key": junk, "a": junk, "b": junk},
    )
    bufs = st.lists(st.binary(max_size=37), max_size=3)
    update = st.builds(
        lambda state, paths, b: ({"method": "update", "state": state, "buffer_paths": paths}, b),
        st.dictionaries(st.sampled_from(keys), junk, max_size=3),
        st.lists(st.lists(st.sampled_from(keys) | st.integers(0, 3), min_size=1, max_size=2), max_size=3) | junk,
        bufs,
    )
    msg = st.one_of(
        st.builds(lambda c, b: ({"method": "custom", "content": c}, b), custom, bufs),
        update,
        st.builds(lambda m, b: ({"method": m, "state": {}}, b), st.text(max_size=8), bufs),
        st.builds(lambda d, b: (d, b), junk, bufs),
    )
    synced = [k for k in widget.keys if not k.startswith("_") and k not in ("status", "busy", "layout")]

    def state():
        return {
            k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else repr(v))
            for k, v in ((k, getattr(widget, k)) for k in synced)
        }

    class Count(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.n = 0

        def emit(self, record):
            self.n += 1

    out = {"cases": 0, "escaped": 0, "state_changed": 0, "not_one_warning": 0, "accepted": 0, "examples": []}
    lg = logging.getLogger("modalchorus_widget")
    handler = Count()
    lg.addHandler(handler)
    old_prop = lg.propagate
    lg.propagate = False
    before = state()

    @settings(
        max_examples=n_cases, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(msg)
    def case(m):
        data, buffers = m
        out["cases"] += 1
        handler.n = 0
        try:
            widget._handle_msg({"content": {"data": data}, "buffers": [memoryview(b) for b in buffers]})
        except BaseException as exc:  # noqa: BLE001 - an escape is what this counts
            out["escaped"] += 1
            if len(out["examples"]) < 5:
                out["examples"].append(f"escaped {type(exc).__name__}: {exc} <- {str(data)[:120]}")
        now = state()
        changed = any(not _same(before[k], now[k]) for k in synced)
        if handler.n == 0:  # a well-formed message the widget applied (e.g. an empty selection)
            out["accepted"] += 1
            before.update(now)
        elif handler.n > 1 or changed:
            out["state_changed" if changed else "not_one_warning"] += 1
            if len(out["examples"]) < 5:
                out["examples"].append(f"{handler.n} warnings, changed={changed} <- {str(data)[:120]}")
            before.update(now)

    try:
        case()
    finally:
        lg.removeHandler(handler)
        lg.propagate = old_prop
    return out


# ------------------------------------------------------------------------------------------ concurrency
def concurrent_align(c) -> dict:
    """Two alignment rounds asked for at once on the shared Chorus (a cell and a thread standing for the
    browser): one runs, the other is refused with a clear WidgetError; history and round count advance by 1."""
    import threading

    from modalchorus_widget.alignment import PointSet

    w = c.chorus
    rounds, hist = w.state.rounds, len(w.aligner.history_)
    started, results = threading.Event(), {}
    real_step = w.aligner.step

    def slow_step(*a, **k):  # holds the round open until the second call has been tried
        started.set()
        time.sleep(0.5)
        return real_step(*a, **k)

    def first():
        try:
            results["first"] = w.align(PointSet(c.n_pairs + 3, np.arange(20, 24)))
        except Exception as exc:  # noqa: BLE001
            results["first"] = exc

    w.aligner.step = slow_step
    try:
        t = threading.Thread(target=first)
        t.start()
        started.wait(30)
        try:
            w.align(PointSet(c.n_pairs + 4, np.arange(24, 28)))
            results["second"] = None
        except WidgetError as exc:
            results["second"] = exc
        t.join(120)
    finally:
        del w.aligner.step
    second = results.get("second")
    ok = (
        not isinstance(results.get("first"), Exception)
        and isinstance(second, WidgetError)
        and "another alignment round is running" in str(second)
        and w.state.rounds == rounds + 1
        and len(w.aligner.history_) == hist + 1
    )
    return {"ok": bool(ok), "refused_message": str(second), "first": repr(results.get("first"))[:200]}


# ------------------------------------------------------------------------------------------ autosave
AUTOSAVE_CHILD = r"""
import sys, time, numpy as np
sys.path.insert(0, sys.argv[3])
from benchmarks import reliability_cases as C
from modalchorus_widget.alignment import PointSet
ctx = C.Ctx()
w = ctx.chorus
w.autosave = sys.argv[1]
w.align(PointSet(ctx.n_pairs, np.arange(4)))
w.sets["after round 1"] = np.arange(6, 11)
w.align(PointSet(ctx.n_pairs + 1, np.arange(11, 15)))
np.savez(sys.argv[2], vectors=w.embeddings.vectors, positions=np.asarray(w.positions), sets=w.sets["after round 1"],
         selected=np.asarray(w.selected))
print("ROUND2", flush=True)
while True:  # keep aligning (and autosaving) until killed
    w.align(PointSet(ctx.n_pairs + 2, np.arange(15, 19)))
    if w.state.rounds >= 3:
        print("ROUND3", flush=True)
        time.sleep(600)
"""


def autosave_kill9(tmp: Path, timeout: float = 300) -> dict:
    """A real subprocess runs two rounds with ``autosave``, writes what it holds, starts a third round and is
    killed with SIGKILL mid-work; ``Chorus.load(autosave)`` must give back the second round bit-exact (or the
    third, when it finished before the kill)."""
    import os
    import signal
    import subprocess
    import sys

    from modalchorus_widget.widget.chorus import Chorus

    repo = Path(__file__).resolve().parents[1]
    auto, ref = tmp / "autosave.mcsession", tmp / "autosave_ref.npz"
    script = tmp / "autosave_child.py"
    script.write_text(AUTOSAVE_CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(auto), str(ref), str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=repo,
    )
    line, t0 = "", time.time()
    while time.time() - t0 < timeout:
        line = proc.stdout.readline()
        if line.startswith("ROUND2") or not line:
            break
    time.sleep(0.3)  # part-way through the third round
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    if not line.startswith("ROUND2"):
        return {"recovered": False, "detail": f"child failed: {proc.stderr.read()[-1500:]}"}
    r = np.load(ref)
    w = Chorus.load(auto)
    same = (
        w.state.rounds in (2, 3)
        and (w.state.rounds == 3 or np.array_equal(w.embeddings.vectors, r["vectors"]))
        and (w.state.rounds == 3 or np.array_equal(np.asarray(w.positions), r["positions"]))
        and np.array_equal(w.sets["after round 1"], r["sets"])
        and len(w.aligner.history_) == w.state.rounds
    )
    return {"recovered": bool(same), "rounds_restored": int(w.state.rounds), "killed_with": "SIGKILL"}
