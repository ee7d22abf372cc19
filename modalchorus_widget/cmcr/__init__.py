"""C-MCR (docs/methods.md 5): connect two contrastive spaces through a shared modality, without paired data."""

from .memory import pseudo_embeddings
from .model import CMCR, connect
from .synthetic import make_synthetic, synthetic_spaces

__all__ = ["CMCR", "connect", "pseudo_embeddings", "synthetic_spaces", "make_synthetic"]
