"""modalchorus-widget: see and fix misalignment in multi-modal embeddings, in a notebook.

The folders are layers, lowest first; each uses only those below it: the core modules at the top
(errors, file safety, evaluation figures, threads) -> ``data`` (embedding sets, model-free loaders) ->
``encoders`` -> the estimators ``projection`` (MFM, baselines, metrics, concept axis), ``alignment``
(constraints from selections, adapters, the Aligner), ``cmcr`` (connecting two spaces) and ``probe`` ->
``worlds`` (the shapes world, its case studies and generator, ``load_default``) -> ``widget`` (the notebook
views and whole-session files) -> ``scale`` (the same on shards, with Ray).

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
