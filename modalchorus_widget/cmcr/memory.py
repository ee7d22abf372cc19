"""C-MCR's memory-based consistency (docs/methods.md section 5): pseudo embeddings from an unpaired memory."""

from __future__ import annotations

import numpy as np

from ..data.validation import check_vectors


def pseudo_embeddings(shared: np.ndarray, memory: np.ndarray, tau: float, batch_size: int = 2048) -> np.ndarray:
    """Memory-based consistency: softmax(cos(shared, memory) / tau)-weighted mean of the memory, re-normalised.

    Batched over ``shared`` so memory use is O(batch * len(memory)), never O(n^2).

    Parameters
    ----------
    shared : numpy.ndarray
        (n, d) unit rows: the shared-modality embeddings.
    memory : numpy.ndarray
        (m, d) unit rows of another modality of the same space (unpaired; their order is never used).
    tau : float
        Softmax temperature (> 0); small: the nearest memory row, large: the memory's mean.
    batch_size : int, default 2048
        Rows of ``shared`` per block.

    Returns
    -------
    numpy.ndarray
        (n, d) float32 unit rows.

    Raises
    ------
    EmbeddingError
        A zero, NaN or inf mean (e.g. a zero memory).

    Examples
    --------
    >>> import numpy as np
    >>> from modalchorus_widget.cmcr import pseudo_embeddings
    >>> memory = np.eye(3, dtype=np.float32)
    >>> pseudo_embeddings(memory[:2], memory, tau=0.001).round(3)
    array([[1., 0., 0.],
           [0., 1., 0.]], dtype=float32)
    """
    out = np.empty((len(shared), memory.shape[1]), dtype=np.float32)
    for s in range(0, len(shared), batch_size):
        logits = (shared[s : s + batch_size] @ memory.T) / tau
        logits -= logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        w /= w.sum(axis=1, keepdims=True)
        out[s : s + batch_size] = w @ memory
    return check_vectors(out, "pseudo embeddings", normalize="always")
