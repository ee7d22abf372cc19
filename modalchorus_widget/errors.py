"""One error base for the package: catch ``ModalChorusError`` to handle anything it raises on purpose.

Errors about bad input also derive from ``ValueError`` (and, where it fits, ``FileNotFoundError`` or
``ImportError``), so code written against the standard exceptions keeps working.
"""

__all__ = [
    "ModalChorusError",
    "InputError",
    "NotFittedError",
    "ParameterError",
    "EmbeddingError",
    "DatasetError",
    "EncoderError",
    "ImageDecodeError",
    "CheckpointError",
    "OfflineWeightsError",
    "SentenceModelError",
    "CLAPUnavailableError",
    "ProjectionError",
    "WidgetError",
    "BufferFormatError",
    "AlignmentError",
    "CMCRError",
    "SessionError",
    "UntrustedFileError",
    "StorageUnavailableError",
]


class ModalChorusError(Exception):
    """Base of every error modalchorus-widget raises on purpose; its message says what was wrong and how to fix it.

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget import EmbeddingSet, ModalChorusError
    >>> try:
    ...     EmbeddingSet(np.full((2, 4), np.nan, dtype="float32"))
    ... except ModalChorusError as exc:
    ...     print(type(exc).__name__)
    EmbeddingError
    """


class InputError(ModalChorusError, ValueError):
    """An argument or a file's content is not what the call needs; the message says how to fix it."""


class MissingFileError(InputError, FileNotFoundError):
    """A file or folder the call needs does not exist."""


class InputTypeError(InputError, TypeError):
    """An argument is of the wrong kind (e.g. bytes where text is needed)."""


class ParameterError(InputError):
    """An estimator's parameter has a value it does not allow (``_parameter_constraints``)."""


class NotFittedError(ModalChorusError, ValueError, AttributeError):
    """An estimator was used before ``fit`` (like scikit-learn's ``NotFittedError``)."""


class EmbeddingError(InputError):
    """Bad vectors, modalities, labels or items for an ``EmbeddingSet``."""


class DatasetError(InputError):
    """A dataset file or folder is missing, incomplete or of another kind."""


class EncoderError(InputError):
    """An encoder cannot embed what it was given."""


class ImageDecodeError(EncoderError):
    """An image file or array cannot be decoded (not an image, truncated, or too large to decode safely).

    Examples
    --------
    >>> from pathlib import Path
    >>> from modalchorus_widget.encoders import ImageDecodeError, load_default_encoder
    >>> _ = Path("bad.png").write_bytes(b"not an image")
    >>> try:
    ...     load_default_encoder().encode_images(["bad.png"])
    ... except ImageDecodeError as exc:
    ...     print(type(exc).__name__)
    ImageDecodeError
    """


class CheckpointError(EncoderError):
    """A weights file (or its JSON config) is corrupt, oversized or for another model.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from modalchorus_widget.encoders import CheckpointError, DefaultEncoder
    >>> _ = Path("w.safetensors").write_bytes(b"junk"), Path("w.json").write_text("{not json")
    >>> try:
    ...     DefaultEncoder(weights="w.safetensors").encode_images(np.zeros((1, 8, 8)))
    ... except CheckpointError as exc:
    ...     print(type(exc).__name__)
    CheckpointError
    """


class OfflineWeightsError(MissingFileError, EncoderError):
    """Model weights are needed but not on disk, and this machine cannot download them.

    Raised by ``OpenCLIPEncoder`` on first use when its checkpoint path does not exist or its pretrained tag is
    neither cached nor downloadable; the message says how to pass a local checkpoint (not run here: it imports
    open_clip).

    Examples
    --------
    >>> from modalchorus_widget.encoders import OfflineWeightsError, OpenCLIPEncoder
    >>> enc = OpenCLIPEncoder("ViT-B-32", pretrained="no/such/checkpoint.pt")
    >>> enc.encode_texts(["a dog"])  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    modalchorus_widget.errors.OfflineWeightsError: open_clip model 'ViT-B-32': checkpoint file ... does not exist...
    >>> issubclass(OfflineWeightsError, FileNotFoundError)
    True
    """


class SentenceModelError(EncoderError, FileNotFoundError):
    """The sentence-transformers model is not available locally (or a folder holds no such model).

    Examples
    --------
    >>> from pathlib import Path
    >>> from modalchorus_widget.encoders import SentenceEncoder, SentenceModelError
    >>> Path("empty").mkdir()
    >>> try:
    ...     SentenceEncoder("empty").encode_texts(["a dog"])
    ... except SentenceModelError as exc:
    ...     print(type(exc).__name__)
    SentenceModelError
    """


class CLAPUnavailableError(EncoderError, ImportError):
    """No CLAP package (laion_clap or msclap, the optional ``clap`` extra) is installed, or its checkpoint is
    not a local file.

    Examples
    --------
    >>> from modalchorus_widget.encoders import CLAPEncoder, CLAPUnavailableError
    >>> try:
    ...     CLAPEncoder("missing-630k-audioset-best.pt")
    ... except CLAPUnavailableError as exc:
    ...     print(type(exc).__name__)
    CLAPUnavailableError
    """


class ProjectionError(InputError):
    """Bad input to a projector, a quality metric or the concept axis (shapes, NaN, too few points)."""


class WidgetError(InputError):
    """Bad input to a widget (wrong shapes, unknown names, missing encoder or aligner)."""


class BufferFormatError(WidgetError):
    """A binary buffer from the front-end has the wrong size or type."""


class AlignmentError(InputError):
    """A constraint or an alignment round cannot be set up or run.

    Examples
    --------
    >>> from modalchorus_widget.alignment import AlignmentError, PointSet
    >>> PointSet(10, [0], direction="sideways")
    Traceback (most recent call last):
    ...
    modalchorus_widget.errors.AlignmentError: PointSet: direction must be 'pull' or 'push', got 'sideways'.
    """


class CMCRError(InputError):
    """Bad input to C-MCR (spaces, shapes, parameters)."""


class SessionError(InputError):
    """A session or aligner file cannot be read (not ours, corrupt, unknown version)."""


class UntrustedFileError(SessionError):
    """A file from elsewhere was refused before it was read (too big, odd member names, unknown content)."""


class StorageUnavailableError(DatasetError, ImportError):
    """An fsspec URL's filesystem package (s3fs for s3://, gcsfs for gs://, ...) is not installed."""
