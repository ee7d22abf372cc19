"""Text-to-image generation for the case studies: one Generator interface, the shapes world's tiny
unCLIP-style generator (prior + decoder), its attribute oracle, and generations as a set on the map."""

from .base import FunctionGenerator, GenerationError, Generator
from .decoder import ShapesDecoder
from .oracle import ShapesOracle
from .prior import PoolPrior
from .shapes import ShapesGenerator, load_shapes_generator

__all__ = [
    "FunctionGenerator",
    "GenerationError",
    "Generator",
    "PoolPrior",
    "ShapesDecoder",
    "ShapesGenerator",
    "ShapesOracle",
    "load_shapes_generator",
]
