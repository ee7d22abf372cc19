"""Embedding sets (vectors + modality + metadata frame) and the datasets that ship with the package."""
