"""The worlds: what the case studies run on, above the estimators and below the widget.

``shapes`` (the procedural scene world: scenes, renderer, captions), ``shapes_encoder`` (its embedded
image-text model), ``shapes_cases`` (the case protocols and their cross-validated settings), ``defaults``
(``load_default``: the loaders that build a model) and ``generation`` (text-to-image generation for the
cases). A world may use ``data``, ``encoders``, ``projection``, ``alignment``, ``cmcr`` and ``probe``; the
widget and ``scale`` are above it.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "load_default": "defaults",
    "ShapesEncoder": "shapes_encoder",
    "load_shapes_encoder": "shapes_encoder",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
