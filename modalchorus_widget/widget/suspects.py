"""The Suspects panel's kernel side: ``w.suspects``, ``w.probe()`` and the panel's actions (issue 29).

``SuspectsActions`` is mixed into ``Chorus``: the probe (``probe.find_suspects``) runs in a background thread
after the widget is built, with its progress in ``probe_status``, so drawing never waits for it. The panel's
list is the synced ``suspects_list`` (names, sizes, scores: small JSON; a slice's rows reach the browser as the
selection's binary buffer when it is clicked). Actions from the panel (message ``suspect``): ``select`` (the
slice becomes the selection, which the gallery shows), ``axis`` (the concept axis between the slice's two
concepts), ``save`` (a named set), ``fix`` (one round with the suggested constraint, its anchor possibly edited),
``thumbs`` (six member thumbnails per slice, as PNG buffers).
"""

from __future__ import annotations

import threading

import numpy as np
import traitlets as t

from ..errors import WidgetError
from .protocol import handles

N_THUMBS = 6


def _anchor_text(sug, items) -> str:
    """The text of a suggested PointSet's anchor row (the prompt the panel's "Fix…" shows), else ""."""
    a = getattr(sug, "anchor", None)
    if items is None or not isinstance(a, (int, np.integer)) or not 0 <= int(a) < len(items):
        return ""
    return str(items[int(a)]) if isinstance(items[int(a)], str) else ""


def _entry(i: int, row, items=None) -> dict:
    ev = row["evidence"] or {}
    concepts = ev.get("concepts")
    sug = row["suggestion"]
    return {
        "index": int(i),
        "kind": str(row["kind"]),
        "name": str(row["name"]),
        "size": int(row["size"]),
        "score": float(row["score"]),
        "axis": bool(concepts),
        "fix": sug is not None,
        "anchor": _anchor_text(sug, items) if sug is not None else "",
    }


class SuspectsActions(t.HasTraits):
    """``w.suspects`` (a ``Suspects`` DataFrame), ``w.probe()``, and the Suspects panel's actions."""

    suspects_list = t.List().tag(sync=True)
    probe_status = t.Unicode("").tag(sync=True)
    suspects_gone = t.List().tag(sync=True)

    def _start_probe(self):
        """Run the first probe in the background (called at the end of ``__init__``)."""
        self._suspects = None
        self._probe_error = None
        self._probe_thread = None
        self.probe(wait=False)

    @property
    def suspects(self):
        """The ranked suspected misalignments (``probe.Suspects``), waiting for a probe that is running."""
        self.wait_probe()
        return self._suspects

    def wait_probe(self, timeout: float | None = None):
        """Block until a background probe is done; raises the error it failed with."""
        th = getattr(self, "_probe_thread", None)
        if th is not None and th is not threading.current_thread():
            th.join(timeout)
            if th.is_alive():
                raise TimeoutError(f"the probe is still running after {timeout} s")
        if getattr(self, "_probe_error", None) is not None:
            err, self._probe_error = self._probe_error, None
            raise WidgetError(f"the probe failed: {type(err).__name__}: {err}") from err
        return self

    def probe(self, wait: bool = True, **params):
        """Find suspected misalignments again on the current (aligned) vectors; ``w.suspects`` is the result.

        Parameters
        ----------
        wait : bool
            Block until done (True) or run in the background with a progress line in the panel (False).
        **params
            Settings of ``find_suspects`` (e.g. ``min_score=8``).

        Returns
        -------
        Suspects or None
            The table when ``wait``; None otherwise (read ``w.suspects`` later).

        Raises
        ------
        WidgetError
            When a probe is already running, or (with ``wait``) when it fails; ``w.suspects`` keeps the last one.
        """
        th = getattr(self, "_probe_thread", None)
        if th is not None and th.is_alive():
            raise WidgetError("probe: a probe is running on this widget; wait for it (w.wait_probe()), then run again")
        self._probe_error = None
        self._probe_thread = threading.Thread(
            target=self._run_probe, args=(params,), name="modalchorus-probe", daemon=True
        )
        self._probe_thread.start()
        if wait:
            self.wait_probe()
            return self._suspects
        return None

    def _run_probe(self, params):
        from ..probe import find_suspects
        from ..probe.metrics import jaccard

        st = self.state
        say = lambda line: setattr(self, "probe_status", line)  # noqa: E731
        try:
            say("probe: starting\u2026")
            sus = find_suspects(st.embeddings, class_prompts=st.prompt_rows, encoder=st.encoder, progress=say, **params)
        except BaseException as exc:  # shown in the panel and raised by w.suspects / wait_probe
            self._probe_error = exc
            self.probe_status = f"error: the probe failed ({type(exc).__name__}: {exc})"
            return
        old = self._suspects
        gone = []
        if old is not None:
            for _, o in old.iterrows():
                if not any(jaccard(o["rows"], r) >= 0.5 for r in sus["rows"]):
                    gone.append(str(o["name"]))
        self._suspects = sus
        with self.hold_sync():
            items = st.embeddings.items
            self.suspects_list = [_entry(i, row, items) for i, (_, row) in enumerate(sus.iterrows())]
            self.suspects_gone = gone
            self.probe_status = f"{len(sus)} suspects" + (
                f"; gone since the last probe: {len(gone)}" if old is not None else ""
            )

    # ------------------------------------------------------------ actions
    def _suspect(self, index):
        sus = self._suspects
        if sus is None or not 0 <= int(index) < len(sus):
            raise WidgetError(f"no suspect {index}: the table has {0 if sus is None else len(sus)} rows")
        return sus.iloc[int(index)]

    def suspect_constraint(self, index: int, anchor: str | None = None):
        """The constraint the Suspects panel's "Fix…" runs for suspect ``index`` (its Python line is
        ``w.align(w.suspect_constraint(index, anchor))``).

        Parameters
        ----------
        index : int
            Position of the suspect in ``w.suspects``.
        anchor : str, optional
            A class prompt's text (or class name) to pull the slice towards instead of the suggested one;
            None, or the suggested anchor's own text, gives the suggestion itself.

        Returns
        -------
        Constraint
            ``w.suspects.suggestion[index]``, or ``PointSet(prompt row of anchor, the slice's rows)``.

        Raises
        ------
        WidgetError
            No such suspect, no suggestion for it, or ``anchor`` names no class prompt.

        Examples
        --------
        >>> w.align(w.suspect_constraint(1, "a photo of a red square"))  # doctest: +SKIP
        """
        return self._suspect_fix(self._suspect(index), anchor)

    def _suspect_fix(self, row, anchor=None):
        """The slice's suggested constraint, with its anchor replaced by the concept named ``anchor``."""
        from ..alignment.constraints import PointSet

        sug = row["suggestion"]
        if sug is None:
            raise WidgetError(f"suspect {row['name']!r} has no suggested constraint")
        if anchor and anchor == _anchor_text(sug, self.state.embeddings.items):
            return sug  # the suggested anchor, unedited
        if anchor and isinstance(sug, PointSet):
            names = list(self.state.prompt_names or [])
            rows = self.state.prompt_rows
            items = self.state.embeddings.items
            texts = [] if rows is None or items is None else [str(items[r]) for r in rows]
            for cand in (texts, [str(n) for n in names]):
                if anchor in cand and rows is not None:
                    return PointSet(int(rows[cand.index(anchor)]), np.asarray(row["rows"], np.int64))
            raise WidgetError(f"fix: {anchor!r} is not a class prompt; use one of {texts[:4]}...")
        return sug

    @handles("suspect")
    def _on_suspect(self, content, _buffers):
        action, index = content["action"], content["index"]
        try:
            if action == "probe":
                self.probe(wait=False)
                return
            row = self._suspect(index)
            if action == "select":
                self.selected = np.asarray(row["rows"], np.uint32)
            elif action == "save":
                name = (content.get("name") or "").strip() or f"suspect {index}"
                self.sets[name] = np.asarray(row["rows"], np.uint32)
            elif action == "axis":
                a, b = row["evidence"]["concepts"]
                self.concept_axis([int(a)], [int(b)])  # from the reading to the runner-up
            elif action == "thumbs":
                self._send_thumbs(index, row)
                return
            elif action == "fix":
                constraint = self._suspect_fix(row, content.get("name"))
                threading.Thread(target=self._fix_then_probe, args=(constraint,), daemon=True).start()
            self.send_message("suspect_done", action=action, index=int(index))
        except Exception as exc:  # the panel shows why; nothing changed
            self.send_message("suspect_done", action=action, index=int(index), error=f"{type(exc).__name__}: {exc}")

    def _fix_then_probe(self, constraint):
        try:
            self.align(constraint)
        except Exception as exc:
            self.probe_status = f"error: the round failed ({type(exc).__name__}: {exc})"
            return
        self.probe(wait=False)

    def _send_thumbs(self, index, row):
        es = self.state.embeddings
        items = es.items
        rows = [int(r) for r in row["rows"] if es.modality[r] == "image"][:N_THUMBS]
        pngs = [] if items is None else [self._thumb(r, items[r]) for r in rows]
        pngs = [p for p in pngs if p is not None]
        self.send_message("suspect_thumbs", buffers=pngs, index=int(index), count=len(pngs))
