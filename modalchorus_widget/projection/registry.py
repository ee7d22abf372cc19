"""Projectors by menu name: the one factory the widget, sessions and benchmarks use."""

from __future__ import annotations

from ..errors import ProjectionError
from .base import Projector
from .baselines import BASELINES
from .mfm import MFM

__all__ = ["PROJECTORS", "make_projector"]

PROJECTORS = {"MFM": MFM, **BASELINES}


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "").replace("_", "").replace(" ", "")


def make_projector(name, **params) -> Projector:
    """A fresh projector by its menu name, with its parameters.

    Parameters
    ----------
    name : str
        ``MFM``, ``PCA``, ``t-SNE``, ``UMAP``, ``MDS``, ``DCM``, ``DCM-t-SNE`` or ``DCM-UMAP`` (the keys of
        ``PROJECTORS``); case, dashes and spaces do not matter.
    **params
        Parameters of that projector (e.g. ``random_state``).

    Returns
    -------
    Projector
        Not fitted yet.

    Raises
    ------
    ProjectionError
        An unknown name, or a parameter the projector does not have.

    Examples
    --------
    >>> from modalchorus_widget import make_projector
    >>> p = make_projector("t-sne", random_state=1)
    >>> type(p).__name__, p.random_state
    ('TSNEProjector', 1)
    """
    by_key = {_key(n): n for n in PROJECTORS}
    if not isinstance(name, str) or _key(name) not in by_key:
        raise ProjectionError(f"unknown projection {name!r}; choose one of {list(PROJECTORS)}.")
    cls = PROJECTORS[by_key[_key(name)]]
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise ProjectionError(
            f"{by_key[_key(name)]} has no parameter(s) {unknown}; its parameters are {sorted(cls().get_params())}."
        )
    return cls(**params)


def method_name(projector) -> str:
    """The menu name of a projector instance (its class's ``name``)."""
    return getattr(projector, "name", type(projector).__name__)
