"""modalchorus-widget: see and fix misalignment in multi-modal embeddings, in a notebook.

Imports are lazy: ``import modalchorus_widget`` stays fast (no torch, no open_clip) and
each public name is loaded from its module on first use.
"""
from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "EmbeddingSet": "embeddings",
    "MFM": "mfm",
    "Chorus": "widget",
    "ScatterWidget": "widget",
    "PointSet": "alignment",
    "SetSet": "alignment",
    "Aligner": "alignment",
    "CMCR": "cmcr",
    "connect": "cmcr",
    "load_default": "datasets",
    "load_coco500": "datasets",
    "concept_axis": "concept_axis",
    "make_projector": "projectors",
    "save_session": "session",
    "load_session": "session",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modalchorus_widget' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
