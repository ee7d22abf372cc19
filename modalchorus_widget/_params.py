"""Parameter names of earlier releases, accepted with a DeprecationWarning so old notebooks keep working."""

from __future__ import annotations

import warnings

from .errors import InputError

# old name -> new name, the same for every estimator of the package
RENAMED = {"steps": "n_steps", "lr": "learning_rate", "epochs": "n_epochs", "seed": "random_state"}


def renamed_params(owner: str, deprecated: dict, **current):
    """The values of ``current`` (new names), taking any old name from ``deprecated`` with a warning."""
    for old, value in deprecated.items():
        new = RENAMED.get(old)
        if new not in current:
            raise InputError(f"{owner}: unknown parameter {old!r}.")
        warnings.warn(f"{owner}({old}=...) is deprecated; use {new}=...", DeprecationWarning, stacklevel=3)
        current[new] = value
    return tuple(current.values())
