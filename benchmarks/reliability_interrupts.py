"""Interrupted work: the ``INTERRUPTS`` table and ``run_interrupt``.

One ``InterruptCase`` per kind of interrupted work (KeyboardInterrupt, or an exception, part-way through MFM
fitting, encoding, an alignment round, a save). The interruption is an explicit ``Interrupter`` callback handed
to the work: a torch forward pre-hook (``on_forward``) that raises at the ``after + 1``-th forward call of the
modules the case watches, or an object the work calls itself. No function of the package is replaced.
``run_interrupt`` checks that the previous model, positions, sets, history and files are intact and usable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .reliability_bad_input_calls import _chorus, _default_encoder
from .reliability_context import CH, MFM_, Ctx, diff, snapshot


# ------------------------------------------------------------------------------------------ interrupts
class Interrupt(RuntimeError):
    """The exception the interrupt cases inject (beside KeyboardInterrupt)."""


class Interrupter:
    """The explicit interruption handed to a case's work: calling it ``after`` times is fine, the next call
    raises ``exc``. Works as a torch forward pre-hook (see ``on_forward``) or as a plain callback."""

    def __init__(self, exc: type[BaseException], after: int = 0):
        self.exc, self.after, self.calls, self.fired = exc, after, 0, False

    def __call__(self, *_args):
        self.calls += 1
        if self.calls > self.after:
            self.fired = True
            raise self.exc("injected interrupt")


@contextlib.contextmanager
def on_forward(interrupter: Interrupter, watch: Callable[[object], bool]):
    """Call ``interrupter`` before the forward pass of every torch module for which ``watch(module)`` is true
    (torch's global ``register_module_forward_pre_hook``; removed on exit)."""
    from torch.nn.modules.module import register_module_forward_pre_hook

    def hook(module, inputs):
        if watch(module):
            interrupter(module, inputs)

    handle = register_module_forward_pre_hook(hook)
    try:
        yield interrupter
    finally:
        handle.remove()


def is_sequential(module) -> bool:
    """MFM's network and the default model's image tower are ``torch.nn.Sequential``: one call per step/batch."""
    import torch

    return type(module) is torch.nn.Sequential


def is_adapter(module) -> bool:
    """A fast-mode alignment adapter (one call per modality per training step)."""
    return type(module).__name__ == "Bottleneck"


@dataclass(frozen=True)
class InterruptCase:
    """Work interrupted part-way: ``work(ctx, interrupter)`` arms the interrupter and does the work;
    ``verify(ctx, before)`` returns what was lost beyond the snapshot entries under ``keys``."""

    name: str
    exc: type[BaseException]
    after: int
    work: Callable[[Ctx, Interrupter], object]
    keys: tuple = ()  # snapshot prefixes that must be unchanged afterwards
    verify: Callable[[Ctx, dict], list] | None = None
    needs: tuple = ()
    known_bug: str = ""  # a package bug this case shows (the test is an expected failure until it is fixed)


@dataclass
class InterruptOutcome:
    name: str
    interrupted: str | None  # the exception that came out of the work (None: it was not interrupted)
    fired: bool  # the interrupter raised
    state_lost: list = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return self.interrupted is not None and self.fired and not self.state_lost

    @property
    def detail(self) -> str:
        return f"interrupted with {self.interrupted}" if self.interrupted else "nothing (not interrupted)"


def run_interrupt(case: InterruptCase, ctx: Ctx) -> InterruptOutcome:
    ctx.build(case.needs)
    before = snapshot(ctx)
    trigger = Interrupter(case.exc, case.after)
    caught = None
    try:
        case.work(ctx, trigger)
    except (KeyboardInterrupt, Interrupt) as exc:
        caught = type(exc).__name__
    lost = [k for k in diff(before, snapshot(ctx)) if k.startswith(case.keys)] if case.keys else []
    if case.verify is not None:
        lost += case.verify(ctx, before)
    return InterruptOutcome(case.name, caught, trigger.fired, lost)


# --- the work of each interrupt case, and what it checks afterwards
def refit_mfm(c, trigger):
    """Refit the context's fitted MFM; the 6th training step raises."""
    with on_forward(trigger, is_sequential):
        c.mfm.fit(c.es)


def mfm_usable(c, before) -> list:
    ok = np.allclose(c.mfm.transform(c.es.vectors), before["mfm.embedding_"], atol=1e-5)
    return [] if ok else ["mfm.transform output"]


def switch_method(c, trigger):
    """Chorus.set_method("MFM") fits a new MFM; its 4th forward pass raises."""
    with on_forward(trigger, is_sequential):
        c.chorus.set_method("MFM")


def no_half_fitted_method(c, before) -> list:
    st = c.chorus.state
    lost = ["half-fitted positions cached"] if "MFM" in st.positions else []
    if "MFM" in st.projectors:
        lost.append("half-fitted projector kept")
    return lost


_DIGITS = np.random.default_rng(0).uniform(0, 16, size=(64, 8, 8)).astype(np.float32)


def encode_digits(c, trigger):
    """DefaultEncoder.encode_images in batches of 8; batch 3 raises. Stores the encoder and its answer
    before the interrupt for ``encoder_usable``."""
    enc = _default_encoder()
    c.scratch["encoder"] = enc, enc.encode_images(_DIGITS, batch_size=16)
    with on_forward(trigger, is_sequential):
        enc.encode_images(_DIGITS, batch_size=8, progress=False)


def encoder_usable(c, before) -> list:
    enc, ref = c.scratch.pop("encoder")
    return [] if np.allclose(enc.encode_images(_DIGITS, batch_size=16), ref, atol=1e-6) else ["encoder output"]


def align_round(c, trigger):
    """Aligner.step on the aligner with one good round; the 5th adapter call of its training raises."""
    from modalchorus_widget.alignment import PointSet

    with on_forward(trigger, is_adapter):
        c.aligned.step(PointSet(c.n_pairs + 1, np.arange(4, 9)))


def aligner_usable(c, before) -> list:
    """Undo and redo still work and give back the vectors of before the interrupt."""
    a = c.aligned
    lost = []
    n = len(a.history_)
    a.undo()
    a.redo()
    if len(a.history_) != n or not np.array_equal(a.embeddings_.vectors, before["aligner.vectors"]):
        lost.append("undo/redo after the interrupt")
    return lost


def chorus_align_training(c, trigger):
    """Chorus.align interrupted inside the aligner's training."""
    from modalchorus_widget.alignment import PointSet

    with on_forward(trigger, is_adapter):
        c.chorus.align(PointSet(c.n_pairs + 2, np.arange(10, 14)))


def chorus_align_placing(c, trigger):
    """Chorus.align interrupted after the round, while the MFM on show places the new vectors."""
    from modalchorus_widget.alignment import PointSet

    mfm_modules = set(c.mfm.network_.modules())
    with on_forward(trigger, lambda m: m in mfm_modules):
        c.chorus.align(PointSet(c.n_pairs + 2, np.arange(10, 14)))


def chorus_round_not_kept(c, before) -> list:
    """Named for the report: the aligner's history and the widget's round count stay in step."""
    n = len(c.aligner.history_)
    return (
        []
        if n == before["aligner.rounds"]
        else [f"aligner history has {n} rounds, the widget {before['aligner.rounds']}"]
    )


def _failing_map(c):
    """A fitted MFM (a copy of the context's) whose ``to_bytes`` calls ``self.interrupt`` first."""
    from modalchorus_widget.projection.mfm import MFM

    class MapThatFailsToSave(MFM):
        interrupt = None

        def to_bytes(self):
            if self.interrupt is not None:
                self.interrupt()
            return super().to_bytes()

    return MapThatFailsToSave.from_bytes(c.mfm.to_bytes())


def save_over_session(c, trigger):
    """Chorus.save over a good session file; writing the map raises."""
    es = c.es
    m = _failing_map(c)
    w = _chorus(es, projector={"MFM": m}, positions=c.mfm.transform(es.vectors))  # shown as the MFM it is
    w.sets["first"] = np.arange(5)
    path = c.tmp / "good.mcsession"
    w.save(path)
    c.scratch["file"] = path, path.read_bytes(), np.array(w.positions)
    w.sets["second"] = np.arange(5, 9)
    m.interrupt = trigger
    w.save(path)


def previous_file_loadable(c, before) -> list:
    from modalchorus_widget.widget.chorus import load_session

    path, data, positions = c.scratch.pop("file")
    lost = []
    if path.read_bytes() != data:
        lost.append("the previous session file was changed")
    leftovers = [p.name for p in path.parent.glob(f".{path.name}.*")]
    if leftovers:
        lost.append(f"temp files left behind: {leftovers}")
    try:
        w = load_session(path)
    except Exception as exc:  # noqa: BLE001 - not loadable is what this reports
        return lost + [f"the previous session file does not load: {type(exc).__name__}: {exc}"]
    if not np.array_equal(np.asarray(w.positions), positions) or sorted(w.sets) != ["first"]:
        lost.append("the previous session file loads other content")
    return lost


IC = InterruptCase
MFM_KEYS, CHORUS_KEYS = ("mfm", "torch"), ("chorus", "aligner")
INTERRUPTS: list[InterruptCase] = [
    IC(
        "KeyboardInterrupt during MFM.fit (training step 6)",
        KeyboardInterrupt,
        5,
        refit_mfm,
        MFM_KEYS,
        mfm_usable,
        MFM_,
    ),
    IC("exception during MFM.fit (training step 6)", Interrupt, 5, refit_mfm, MFM_KEYS, mfm_usable, MFM_),
    IC(
        "KeyboardInterrupt during Chorus.set_method (new projection being fitted)",
        KeyboardInterrupt,
        3,
        switch_method,
        ("chorus",),
        no_half_fitted_method,
        CH,
    ),
    IC(
        "KeyboardInterrupt during DefaultEncoder.encode_images (batch 3)",
        KeyboardInterrupt,
        2,
        encode_digits,
        (),
        encoder_usable,
    ),
    IC("exception during DefaultEncoder.encode_images (batch 3)", Interrupt, 2, encode_digits, (), encoder_usable),
    IC(
        "KeyboardInterrupt during Aligner.step (adapter training, 5th adapter call)",
        KeyboardInterrupt,
        4,
        align_round,
        ("aligner",),
        aligner_usable,
        ("aligned",),
    ),
    IC(
        "exception during Aligner.step (adapter training, 5th adapter call)",
        Interrupt,
        4,
        align_round,
        ("aligner",),
        aligner_usable,
        ("aligned",),
    ),
    IC(
        "exception during Chorus.align (aligner training)",
        Interrupt,
        4,
        chorus_align_training,
        CHORUS_KEYS,
        chorus_round_not_kept,
        CH,
    ),
    IC(
        "KeyboardInterrupt during Chorus.align (aligner training)",
        KeyboardInterrupt,
        4,
        chorus_align_training,
        CHORUS_KEYS,
        chorus_round_not_kept,
        CH,
    ),
    IC(
        "exception during Chorus.align (re-placing points after the round)",
        Interrupt,
        0,
        chorus_align_placing,
        CHORUS_KEYS,
        chorus_round_not_kept,
        CH,
    ),
    IC(
        "KeyboardInterrupt during Chorus.save over a good file (writing the map)",
        KeyboardInterrupt,
        0,
        save_over_session,
        (),
        previous_file_loadable,
        MFM_,
    ),
]
del IC
