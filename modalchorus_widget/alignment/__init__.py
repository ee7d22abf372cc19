"""Alignment from lasso selections: constraints -> near-identity adapters, round by round (docs/methods.md 4)."""

from ..errors import AlignmentError
from .aligner import Aligner, Round
from .constraints import PointSet, SetSet, synthesize, weigh_by_size

__all__ = ["Aligner", "AlignmentError", "PointSet", "Round", "SetSet", "synthesize", "weigh_by_size"]
