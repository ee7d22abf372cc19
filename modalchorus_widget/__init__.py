"""modalchorus-widget: see and fix misalignment in multi-modal embeddings, in a notebook.

The data flow reads from the folders: ``data`` (embedding sets, datasets) -> ``encoders`` ->
``projection`` (MFM, baselines, metrics, concept axis) -> ``widget`` (the notebook views) -> ``alignment``
(constraints from selections, adapters) -> back to ``data``; ``cmcr`` connects two spaces and ``session``
keeps a whole working session in one file.

Imports are lazy: ``import modalchorus_widget`` stays fast (no torch, no open_clip) and each public name is
loaded from its module on first use.
"""

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "EmbeddingSet": "data.embeddings",
    "load_default": "worlds.defaults",
    "load_coco500": "data.datasets",
    "load_embeddings": "data.datasets",
    "MFM": "projection.mfm",
    "make_projector": "projection.registry",
    "Projector": "projection.base",
    "PROJECTORS": "projection.registry",
    "evaluate": "projection.metrics",
    "concept_axis": "projection.concept_axis",
    "Chorus": "widget.chorus",
    "ScatterWidget": "widget.scatter",
    "PointSet": "alignment",
    "SetSet": "alignment",
    "weigh_by_size": "alignment",
    "Aligner": "alignment",
    "Patch": "alignment.patch",
    "CMCR": "cmcr",
    "connect": "cmcr",
    "save_session": "widget.chorus",
    "load_session": "widget.chorus",
    "ModalChorusError": "errors",
    "find_suspects": "probe",
    "Suspects": "probe",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
