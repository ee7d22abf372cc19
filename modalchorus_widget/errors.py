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
    """An image file or array cannot be decoded."""


class CheckpointError(EncoderError):
    """A weights file is missing, corrupt or for another model."""


class OfflineWeightsError(MissingFileError, EncoderError):
    """Model weights are needed but not on disk, and this machine cannot download them."""


class SentenceModelError(EncoderError, FileNotFoundError):
    """The sentence-transformers model is not available locally."""


class CLAPUnavailableError(EncoderError, ImportError):
    """laion_clap (the optional ``clap`` extra) is not installed."""


class ProjectionError(InputError):
    """Bad input to a projector, a quality metric or the concept axis (shapes, NaN, too few points)."""


class WidgetError(InputError):
    """Bad input to a widget (wrong shapes, unknown names, missing encoder or aligner)."""


class BufferFormatError(WidgetError):
    """A binary buffer from the front-end has the wrong size or type."""


class AlignmentError(InputError):
    """A constraint or an alignment round cannot be set up or run."""


class CMCRError(InputError):
    """Bad input to C-MCR (spaces, shapes, parameters)."""


class SessionError(InputError):
    """A session or aligner file cannot be read (not ours, corrupt, unknown version)."""


class UntrustedFileError(SessionError):
    """A file from elsewhere was refused before it was read (too big, odd member names, unknown content)."""


class StorageUnavailableError(DatasetError, ImportError):
    """An fsspec URL's filesystem package (s3fs for s3://, gcsfs for gs://, ...) is not installed."""
