"""Automatic probing: a ranked table of suspected misalignments, found without labels (METHODS section 6).

``find_suspects(embeddings, class_prompts=None, encoder=None, labels=None)`` returns a ``Suspects`` DataFrame;
each kind runs only where its inputs exist (``KINDS``). ``slice_scores`` measures a table against known faults.
"""

from .metrics import jaccard, slice_scores
from .suspects import DEFAULTS, KINDS, Suspects, find_suspects

__all__ = ["DEFAULTS", "KINDS", "Suspects", "find_suspects", "jaccard", "slice_scores"]
