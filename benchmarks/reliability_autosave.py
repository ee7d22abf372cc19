"""Crash safety: a real subprocess autosaving its rounds is killed with SIGKILL; ``Chorus.load`` restores it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------------------------------ autosave
AUTOSAVE_CHILD = r"""
import sys, time, numpy as np
sys.path.insert(0, sys.argv[3])
from benchmarks import reliability_context as C
from modalchorus_widget.alignment import PointSet
ctx = C.Ctx()
w = ctx.chorus
w.autosave = sys.argv[1]
w.align(PointSet(ctx.n_pairs, np.arange(4)))
w.sets["after round 1"] = np.arange(6, 11)
w.align(PointSet(ctx.n_pairs + 1, np.arange(11, 15)))
np.savez(sys.argv[2], vectors=w.embeddings.vectors, positions=np.asarray(w.positions), sets=w.sets["after round 1"],
         selected=np.asarray(w.selected))
print("ROUND2", flush=True)
while True:  # keep aligning (and autosaving) until killed
    w.align(PointSet(ctx.n_pairs + 2, np.arange(15, 19)))
    if w.state.rounds >= 3:
        print("ROUND3", flush=True)
        time.sleep(600)
"""


def autosave_kill9(tmp: Path, timeout: float = 300) -> dict:
    """A real subprocess runs two rounds with ``autosave``, writes what it holds, starts a third round and is
    killed with SIGKILL mid-work; ``Chorus.load(autosave)`` must give back the second round bit-exact (when the
    third finished before the kill, undoing it must)."""
    import os
    import signal
    import subprocess
    import sys

    from modalchorus_widget.widget.chorus import Chorus

    repo = Path(__file__).resolve().parents[1]
    auto, ref = tmp / "autosave.mcsession", tmp / "autosave_ref.npz"
    script = tmp / "autosave_child.py"
    script.write_text(AUTOSAVE_CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(auto), str(ref), str(repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=repo,
    )
    line, t0 = "", time.time()
    while time.time() - t0 < timeout:
        line = proc.stdout.readline()
        if line.startswith("ROUND2") or not line:
            break
    time.sleep(0.3)  # part-way through the third round
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    if not line.startswith("ROUND2"):
        return {"recovered": False, "detail": f"child failed: {proc.stderr.read()[-1500:]}"}
    r = np.load(ref)
    w = Chorus.load(auto)
    rounds = int(w.state.rounds)
    history_ok = rounds in (2, 3) and len(w.aligner.history_) == rounds
    if rounds == 3:  # the third round finished before the kill: undoing it must give back round 2 bit-exact
        w.undo(animate=False)
    same = (
        history_ok
        and np.array_equal(w.embeddings.vectors, r["vectors"])
        and np.array_equal(np.asarray(w.positions), r["positions"])
        and np.array_equal(w.sets["after round 1"], r["sets"])
    )
    return {"recovered": bool(same), "rounds_restored": rounds, "killed_with": "SIGKILL"}
