"""Encoders: one interface (``Encoder.encode_images`` / ``encode_texts`` -> unit float32 numpy).

Backends are imported lazily so that ``import modalchorus_widget.encoders`` pulls in neither torch nor
open_clip: ``OpenCLIPEncoder`` (open_clip, any architecture / pretrained tag / local checkpoint),
``DefaultEncoder`` (the embedded digits model shipped in the package), and, when present,
``CLAPEncoder`` / ``SentenceEncoder`` (C-MCR's audio-text and text-only spaces).
"""
from importlib import import_module

_EXPORTS = {
    "Encoder": "base",
    "ImageDecodeError": "base",
    "CheckpointError": "base",
    "OpenCLIPEncoder": "open_clip",
    "OfflineWeightsError": "open_clip",
    "DefaultEncoder": "default",
    "load_default_encoder": "default",
    # owned by the C-MCR engineer; exported when those modules exist
    "CLAPEncoder": "clap",
    "CLAPUnavailableError": "clap",
    "SentenceEncoder": "sentence",
    "SentenceModelError": "sentence",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        try:
            module = import_module(f".{_EXPORTS[name]}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{_EXPORTS[name]}":
                raise AttributeError(
                    f"modalchorus_widget.encoders.{name} is not available: module "
                    f"'{_EXPORTS[name]}.py' is not part of this installation."
                ) from exc
            raise
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modalchorus_widget.encoders' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
