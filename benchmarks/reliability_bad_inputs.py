"""Bad inputs a user can hand the public API: the ``BAD_INPUTS`` table and ``run_bad_input``.

One ``BadInput`` per row: the API (``where``), the call that hands it over (``reliability_bad_input_calls``), the
exception types that count as a clear error (``expect``) and words its message must hold (``words``: what was
wrong). ``run_bad_input`` runs one row: it must raise one of ``expect``, name what was wrong, say how to fix it,
and leave the shared objects (``Ctx``) as they were. ``tests/test_reliability.py`` runs every row as one test and
``python -m benchmarks reliability`` counts the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from modalchorus_widget.errors import (
    AlignmentError,
    BufferFormatError,
    CheckpointError,
    EmbeddingError,
    EncoderError,
    ImageDecodeError,
    InputTypeError,
    MissingFileError,
    ModalChorusError,
    ProjectionError,
    SessionError,
    WidgetError,
)

from . import reliability_bad_input_calls as F
from .reliability_context import AL, CH, ES, FIX_WORDS, MFM_, Ctx, diff, snapshot


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


VE, TE = ValueError, TypeError
B = BadInput

BAD_INPUTS: list[BadInput] = [
    # ---- vectors: NaN / inf / zero
    B("NaN in vectors", "EmbeddingSet(vectors)", F.nan_in_embeddingset, (EmbeddingError,), ("nan",)),
    B("inf in vectors", "EmbeddingSet(vectors)", F.inf_in_embeddingset, (EmbeddingError,), ("inf",)),
    B("NaN in vectors", "EmbeddingSet.with_vectors", F.nan_in_with_vectors, (EmbeddingError,), ("nan",), ES),
    B("NaN in vectors", "MFM.fit", F.nan_in_mfm_fit, (EmbeddingError,), ("nan",)),
    B("NaN in vectors", "MFM.transform", F.nan_in_mfm_transform, (EmbeddingError,), ("nan",), MFM_),
    B("NaN in vectors", "Aligner.transform", F.nan_in_aligner_transform, (EmbeddingError,), ("nan",), AL),
    B("NaN in positions", "Chorus.update_positions", F.nan_in_positions, (BufferFormatError,), ("finite",), CH),
    B("NaN in vectors", "metrics.trustworthiness", F.nan_in_trustworthiness, (EmbeddingError,), ("nan",)),
    B("zero vector", "EmbeddingSet(vectors)", F.zero_in_embeddingset, (EmbeddingError,), ("zero",)),
    B("zero vector", "MFM.transform", F.zero_in_mfm_transform, (EmbeddingError,), ("zero",), MFM_),
    B("zero vector", "PointSet anchor vector", F.zero_anchor_vector, (EmbeddingError,), ("zero",), AL),
    # ---- vectors: dtype / shape / dimension
    B("wrong dtype (strings)", "EmbeddingSet(vectors)", F.string_vectors, (EmbeddingError,), ("dtype",)),
    B("wrong dtype (object rows)", "EmbeddingSet(vectors)", F.ragged_object_vectors, (EmbeddingError,), ("dtype",)),
    B("wrong shape (1-D)", "EmbeddingSet(vectors)", F.one_d_vectors, (EmbeddingError,), ("shape",)),
    B("wrong shape (0 rows)", "EmbeddingSet(vectors)", F.zero_row_vectors, (EmbeddingError,), ("empty",)),
    B("wrong shape", "EmbeddingSet.with_vectors", F.with_vectors_wrong_shape, (EmbeddingError,), ("shape",), ES),
    B("wrong shape (n, 3) positions", "Chorus(positions=...)", F.chorus_positions_n3, (BufferFormatError,), ("shape",)),
    B(
        "wrong type (ndarray, not EmbeddingSet)",
        "Chorus(embeddings)",
        F.chorus_of_ndarray,
        (InputTypeError,),
        ("embeddingset",),
    ),
    B(
        "mismatched dimensions between modalities",
        "EmbeddingSet.from_pairs",
        F.from_pairs_mismatched_dims,
        (EmbeddingError,),
        ("dimension",),
    ),
    B(
        "mismatched dimensions between sets",
        "EmbeddingSet.concat",
        F.concat_mismatched_dims,
        (EmbeddingError,),
        ("dimension",),
        ES,
    ),
    B(
        "vectors of another dimension",
        "MFM.transform",
        F.mfm_transform_other_dim,
        (EmbeddingError,),
        ("dimension",),
        MFM_,
    ),
    B(
        "vectors of another dimension",
        "Aligner.transform",
        F.aligner_transform_other_dim,
        (EmbeddingError,),
        ("dimension", "7"),
        AL,
    ),
    B(
        "anchor vector of another dimension",
        "PointSet anchor",
        F.anchor_other_dim,
        (EmbeddingError,),
        ("dimension",),
        AL,
    ),
    B("duplicate ids", "EmbeddingSet(ids)", F.duplicate_ids, (EmbeddingError,), ("duplicate",)),
    B("duplicate ids across sets", "EmbeddingSet.concat", F.concat_duplicate_ids, (EmbeddingError,), ("ids",), ES),
    # ---- selections
    B("empty selection", "Aligner.step(PointSet)", F.empty_point_set, (AlignmentError,), ("empty",), AL),
    B("empty selection", "Aligner.step(SetSet)", F.empty_set_set, (AlignmentError,), ("empty",), AL),
    B("empty selection", "weigh_by_size(PointSet, PointSet)", F.weigh_empty_lasso, (AlignmentError,), ("empty",), AL),
    B("a list of constraints", "weigh_by_size([...])", F.weigh_a_list, (AlignmentError,), ("unpack",), AL),
    B(
        "empty selection",
        "Chorus.align(PointSet(anchor, w.selected=[]))",
        F.chorus_align_empty,
        (AlignmentError,),
        ("empty",),
        CH,
    ),
    B(
        "empty set as concept",
        "Chorus.concept_axis",
        F.empty_concept_set,
        (ProjectionError,),
        ("empty",),
        CH,
    ),
    B(
        "single-point selection (only the anchor)",
        "Aligner.step(PointSet)",
        F.anchor_only_selection,
        (AlignmentError,),
        ("anchor",),
        AL,
    ),
    B("single-point selection", "Aligner.step(SetSet(a))", F.single_point_set_set, (AlignmentError,), ("modalit",), AL),
    B(
        "selection of one modality for a cross-modal loss",
        "Aligner.step(SetSet(a) split by modality)",
        F.one_modality_set_set,
        (AlignmentError,),
        ("modalit",),
        AL,
    ),
    B(
        "unknown modality for a loss",
        "PointSet(anchor_modality=...)",
        F.unknown_anchor_modality,
        (AlignmentError,),
        ("modality",),
        AL,
    ),
    B(
        "selection out of range",
        "Aligner.step(PointSet)",
        F.point_set_out_of_range,
        (EmbeddingError,),
        ("indices",),
        AL,
    ),
    B("selection out of range", "Chorus.selected", F.selected_out_of_range, (EmbeddingError,), ("range",), CH),
    # ---- text without an encoder, encoders that are not Encoders
    B(
        "unknown concept text, no encoder",
        "Chorus.concept_axis",
        F.concept_text_no_encoder,
        (WidgetError,),
        ("encoder",),
        CH,
    ),
    B(
        "unknown anchor text, no encoder",
        "Aligner.step(PointSet('text', ...))",
        F.anchor_text_no_encoder,
        (AlignmentError,),
        ("encoder",),
        AL,
    ),
    B(
        "plain function as encoder",
        "Aligner(encoder=...)",
        F.aligner_plain_function_encoder,
        (EncoderError,),
        ("FunctionEncoder",),
    ),
    B(
        "plain function as encoder",
        "Chorus(encoder=...)",
        F.chorus_plain_function_encoder,
        (EncoderError,),
        ("FunctionEncoder",),
    ),
    # ---- projections
    B("unknown projection name", "make_projector", F.unknown_projection, (ProjectionError,), ("tsne-3d",)),
    B("single modality for a fusing projector", "MFM.fit", F.mfm_one_modality, (ProjectionError,), ("modalities",)),
    # ---- files
    B("missing checkpoint", "DefaultEncoder(weights=...)", F.missing_default_weights, (MissingFileError,), ("nope",)),
    B(
        "missing checkpoint",
        "OpenCLIPEncoder(pretrained=FILE)",
        F.missing_open_clip_checkpoint,
        (MissingFileError,),
        ("nope.pt",),
    ),
    B("missing checkpoint", "load_session", F.missing_session, (MissingFileError,), ("nope.zip",)),
    B(
        "corrupt checkpoint (garbage bytes)",
        "DefaultEncoder(weights=...)",
        F.garbage_default_weights,
        (CheckpointError,),
        ("corrupt_digits",),
    ),
    B(
        "corrupt checkpoint (truncated)",
        "DefaultEncoder(weights=...)",
        F.truncated_default_weights,
        (CheckpointError,),
        ("truncated_digits",),
    ),
    B("corrupt checkpoint", "Aligner.load", F.corrupt_aligner_file, (SessionError,), ("bad_aligner",)),
    B("corrupt checkpoint", "MFM.load", F.corrupt_mfm_file, (SessionError,), ("bad_map",)),
    B("corrupt session file", "load_session", F.corrupt_session_file, (SessionError,), ("bad.mcsession",)),
    B(
        "session of an unknown format version",
        "load_session",
        F.unknown_session_version,
        (SessionError,),
        ("version 999",),
    ),
    B("corrupt embeddings file", "EmbeddingSet.load", F.corrupt_embeddings_file, (EmbeddingError,), ("bad.npz",)),
    # ---- images
    B(
        "undecodable image file",
        "make_thumbnail / Chorus tooltip",
        F.undecodable_thumbnail,
        (ImageDecodeError,),
        ("broken.png",),
    ),
    B(
        "undecodable image file",
        "DefaultEncoder.encode_images",
        F.undecodable_default_encoder,
        (ImageDecodeError,),
        ("broken.png",),
    ),
    B(
        "undecodable image file",
        "OpenCLIPEncoder.encode_images (to_pil)",
        F.undecodable_to_pil,
        (ImageDecodeError,),
        ("broken.png",),
    ),
    B(
        "huge image (decompression bomb)",
        "make_thumbnail / Chorus tooltip",
        F.huge_thumbnail,
        (ImageDecodeError,),
        ("huge.png", "pixels"),
    ),
    B(
        "huge image (decompression bomb)",
        "DefaultEncoder.encode_images",
        F.huge_default_encoder,
        (ImageDecodeError,),
        ("huge.png", "pixels"),
    ),
    B(
        "huge image (decompression bomb)",
        "OpenCLIPEncoder.encode_images (to_pil)",
        F.huge_to_pil,
        (ImageDecodeError,),
        ("huge.png", "pixels"),
    ),
    # ---- text
    B("non-UTF-8 text (bytes)", "Encoder.encode_texts", F.bytes_text, (TE, VE), ("bytes",)),
    B("non-UTF-8 text (undecodable surrogates)", "Encoder.encode_texts", F.surrogate_text, (VE,), ("utf-8",)),
    B(
        "non-UTF-8 text (undecodable surrogates) in captions",
        "EmbeddingSet(items / labels / ids)",
        F.surrogate_captions,
        (EmbeddingError,),
        ("utf-8",),
    ),
    # ---- metadata, modalities, modes
    B(
        "metadata frame of the wrong length",
        "EmbeddingSet(meta)",
        F.meta_wrong_length,
        (EmbeddingError,),
        ("meta", "5", "6"),
    ),
    B("labels of the wrong length", "EmbeddingSet(labels)", F.labels_wrong_length, (EmbeddingError,), ("labels", "7")),
    B("unknown modality name", "EmbeddingSet(modality)", F.unknown_modality_name, (EmbeddingError,), ("txt",)),
    B(
        "deep mode without an encoder to tune",
        "Aligner(mode='deep')",
        F.deep_without_encoder,
        (AlignmentError,),
        ("encoder", "mode='fast'"),
    ),
    B(
        "deep mode without raw inputs",
        "Aligner(mode='deep', encoder=DefaultEncoder())",
        F.deep_without_raw_inputs,
        (AlignmentError,),
        ("images=",),
    ),
    B(
        "anchor mode with a set-set constraint (no anchor to tune)",
        "Aligner(mode='anchors').step(SetSet(...))",
        F.anchors_with_set_set,
        (AlignmentError,),
        ("set-set", "mode='fast'"),
    ),
    B(
        "zero-shot prediction from image vectors alone (the prompts would be the unaligned ones)",
        "ChorusData.predict(vectors)",
        F.predict_with_image_vectors,
        (InputTypeError,),
        ("EmbeddingSet", "aligner.embeddings_"),
    ),
    B(
        "deep mode with raw inputs of the wrong count",
        "Aligner(mode='deep', images=...)",
        F.deep_wrong_raw_count,
        (AlignmentError,),
        ("5", "6"),
    ),
    B("unknown colour column", "Chorus.set_color_by", F.unknown_colour_column, (WidgetError,), ("no_such_column",), CH),
]
del B
