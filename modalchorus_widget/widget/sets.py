"""Named sets of a widget as a dict-like view: ``w.sets["name"] = indices`` updates the views."""

from __future__ import annotations


class NamedSets:
    """Dict-like view of a widget's named sets; writes replace the synced trait so the views update."""

    def __init__(self, widget):
        object.__setattr__(self, "_w", widget)

    def _raw(self) -> dict:
        return self._w.named_sets

    def __getitem__(self, name):
        d = self._raw()
        if name not in d:
            raise KeyError(f"no set named {name!r}; sets are {list(d)}")
        return d[name]

    def __setitem__(self, name, indices):
        d = dict(self._raw())
        d[str(name)] = indices
        self._w.named_sets = d

    def __delitem__(self, name):
        d = dict(self._raw())
        if name not in d:
            raise KeyError(f"no set named {name!r}; sets are {list(d)}")
        del d[name]
        self._w.named_sets = d

    def __contains__(self, name):
        return name in self._raw()

    def __iter__(self):
        return iter(list(self._raw()))

    def __len__(self):
        return len(self._raw())

    def keys(self):
        return list(self._raw())

    @property
    def names(self):
        return list(self._raw())

    def items(self):
        return list(self._raw().items())

    def values(self):
        return list(self._raw().values())

    def get(self, name, default=None):
        return self._raw().get(name, default)

    def clear(self):
        self._w.named_sets = {}

    def update(self, other=(), **kw):
        d = dict(self._raw())
        d.update(dict(other), **kw)
        self._w.named_sets = d

    def __repr__(self):
        return "Sets(" + ", ".join(f"{k!r}: {len(v)} points" for k, v in self._raw().items()) + ")"
