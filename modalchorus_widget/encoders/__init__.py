"""Encoders: one interface (``Encoder.encode_images`` / ``encode_texts`` -> unit float32 numpy).

Backends are imported lazily so that ``import modalchorus_widget.encoders`` pulls in neither torch nor
open_clip: ``OpenCLIPEncoder`` (open_clip, any architecture / pretrained tag / local checkpoint),
``DefaultEncoder`` (the embedded digits model shipped in the package), ``CLAPEncoder`` / ``SentenceEncoder`` (C-MCR's audio-text and text-only spaces).
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "Encoder": "base",
    "FunctionEncoder": "base",
    "check_encoder": "base",
    "OpenCLIPEncoder": "open_clip",
    "DefaultEncoder": "default",
    "load_default_encoder": "default",
    "CLAPEncoder": "clap",
    "SentenceEncoder": "sentence",
}

_ERRORS = ("ImageDecodeError", "CheckpointError", "OfflineWeightsError", "CLAPUnavailableError", "SentenceModelError")

__getattr__, __dir__, __all__ = lazy_exports(__name__, {**_EXPORTS, **dict.fromkeys(_ERRORS, "..errors")})
