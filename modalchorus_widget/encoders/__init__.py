"""Encoders: one interface (``Encoder.encode_images`` / ``encode_texts`` -> unit float32 numpy).

Backends are imported lazily so that ``import modalchorus_widget.encoders`` pulls in neither torch nor
open_clip: ``OpenCLIPEncoder`` (open_clip, any architecture / pretrained tag / local checkpoint),
``DefaultEncoder`` (the embedded digits model shipped in the package), ``CLAPEncoder`` / ``SentenceEncoder`` (C-MCR's audio-text and text-only spaces).
"""

from importlib import import_module

_EXPORTS = {
    "Encoder": "base",
    "FunctionEncoder": "base",
    "check_encoder": "base",
    "OpenCLIPEncoder": "open_clip",
    "DefaultEncoder": "default",
    "load_default_encoder": "default",
    "ShapesEncoder": "shapes",
    "CLAPEncoder": "clap",
    "SentenceEncoder": "sentence",
}

_ERRORS = ("ImageDecodeError", "CheckpointError", "OfflineWeightsError", "CLAPUnavailableError", "SentenceModelError")

__all__ = sorted([*_EXPORTS, *_ERRORS])


def __getattr__(name):
    if name in _ERRORS:
        return getattr(import_module("..errors", __name__), name)
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modalchorus_widget.encoders' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
