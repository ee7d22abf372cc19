"""Lazy public names for a package (PEP 562): each is imported from its module on first use and cached, so
importing the package stays fast (no torch, no open_clip, no Ray until a name that needs them is used)."""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, exports: dict, modules=()):
    """(``__getattr__``, ``__dir__``, ``__all__``) for ``package``: ``exports`` maps a public name to the
    module it lives in, relative to the package (``"data.embeddings"``, ``"..errors"``); ``modules`` are
    submodules reachable as attributes."""
    public = sorted([*exports, *modules])
    namespace = import_module(package).__dict__

    def __getattr__(name):
        if name in modules:
            return import_module(f".{name}", package)
        if name in exports:
            where = exports[name]
            value = getattr(import_module(where if where.startswith(".") else f".{where}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(list(namespace) + public)

    return __getattr__, __dir__, public
