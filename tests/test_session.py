"""Whole-session persistence: save_session/load_session of a Chorus on real COCO-500 CLIP embeddings.

Round trip keeps embeddings + metadata, positions, selection, named sets, the fitted MFM and the Aligner
with its history (undo still works after loading); unknown versions are refused clearly; a process killed
(SIGKILL) in the middle of saving a big session leaves the previous file loadable.
"""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from modalchorus_widget.errors import SessionError
from modalchorus_widget.widget.chorus import load_session, save_session
from modalchorus_widget.widget.session import read_manifest

N_PAIRS = 40


@pytest.fixture(scope="module")
def chorus(coco_vectors):
    from modalchorus_widget.alignment import Aligner, PointSet
    from modalchorus_widget.data.embeddings import EmbeddingSet
    from modalchorus_widget.projection.mfm import MFM
    from modalchorus_widget.widget.chorus import Chorus

    img, txt = coco_vectors[0][:N_PAIRS], coco_vectors[1][:N_PAIRS]
    labels = [f"g{i % 3}" for i in range(N_PAIRS)]
    es = EmbeddingSet.from_pairs(
        img,
        txt,
        labels=labels,
        text_labels=labels,
        captions=[f"caption {i}" for i in range(N_PAIRS)],
        meta={"score": np.linspace(0, 1, 2 * N_PAIRS)},
    )
    mfm = MFM(hidden=(32,), n_steps=15, batch_size=32, warm_start=False, random_state=0)
    mfm.fit(es.vectors, modality=es.modality)
    aligner = Aligner(n_steps=4, n_reference=32, n_candidates=32, batch_size=32, hidden=8, eval_every=2).fit(es)
    w = Chorus(es, projector=mfm, positions=mfm.transform(es.vectors), aligner=aligner)
    w.align(PointSet(N_PAIRS, np.arange(5)), animate=False)
    w.align(PointSet(N_PAIRS + 1, np.arange(5, 9)), animate=False)
    w.sets["cats"] = [1, 2, 3]
    w.sets["dogs"] = np.arange(20, 30)
    w.selected = [4, 7, 50]
    return w


SYNCED = (
    "positions",
    "category",
    "modality",
    "selected",
    "named_sets",
    "category_names",
    "modality_names",
    "method",
    "color_by",
    "color_options",
    "status",
    "point_labels",
)


def _state(w):
    st = {}
    for k in SYNCED:
        v = getattr(w, k)
        st[k] = (
            {n: np.asarray(x).tolist() for n, x in v.items()}
            if isinstance(v, dict)
            else (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
        )
    return st


def test_round_trip_whole_session(chorus, tmp_path):
    p = save_session(chorus, tmp_path / "s.mcsession")
    w = load_session(p)
    es0, es1 = chorus.embeddings, w.embeddings
    np.testing.assert_array_equal(es1.vectors, es0.vectors)
    assert es1.frame.drop(columns=["item"]).equals(es0.frame.drop(columns=["item"]))
    assert list(es1.items) == list(es0.items)
    np.testing.assert_array_equal(w.positions, chorus.positions)
    np.testing.assert_array_equal(w.selected, [4, 7, 50])
    assert w.sets.names == ["cats", "dogs"]
    np.testing.assert_array_equal(w.sets["dogs"], np.arange(20, 30))
    # the fitted projector places vectors exactly as before
    np.testing.assert_allclose(w.projector.transform(es0.vectors), chorus.projector.transform(es0.vectors), atol=1e-5)
    # alignment history with adapters: same rounds, same transform, undo still works
    a0, a1 = chorus.aligner, w.aligner
    assert len(a1.history_) == len(a0.history_) == 2
    np.testing.assert_allclose(a1.embeddings_.vectors, a0.embeddings_.vectors, atol=1e-5)
    probe = es0.vectors[:5]
    np.testing.assert_allclose(a1.transform(probe, "image"), a0.transform(probe, "image"), atol=1e-5)
    a1.undo()
    assert len(a1.history_) == 1 and len(a0.history_) == 2


def test_recreated_widget_shows_same_state(chorus, tmp_path):
    """Every synced trait the browser renders is the same in a widget re-created from the file."""
    w = load_session(save_session(chorus, tmp_path / "s.mcsession"))
    a, b = _state(chorus), _state(w)
    for k in SYNCED:
        assert a[k] == b[k], k
    # and the loaded widget keeps working: another alignment round moves points
    from modalchorus_widget.alignment import PointSet

    before = np.array(w.positions, copy=True)
    w.align(PointSet(N_PAIRS + 2, np.arange(10, 14)), animate=False)
    assert not np.allclose(before, w.positions)


def test_save_is_atomic_and_versioned(chorus, tmp_path):
    p = save_session(chorus, tmp_path / "s.mcsession")
    m = read_manifest(p)
    assert m["format"] == "modalchorus-session" and m["version"] == 2
    assert [f.name for f in tmp_path.iterdir()] == ["s.mcsession"]  # no temp files left behind


def _rewrite_manifest(src, dst, **changes):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    m = json.loads(members["manifest.json"])
    m.update(changes)
    members["manifest.json"] = json.dumps(m).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    dst.write_bytes(buf.getvalue())
    return dst


def test_refuses_unknown_version(chorus, tmp_path):
    good = save_session(chorus, tmp_path / "good.mcsession")
    bad = _rewrite_manifest(good, tmp_path / "v99.mcsession", version=99)
    with pytest.raises(SessionError, match=r"version 99 is not supported.*reads versions \[1, 2\].*Upgrade"):
        load_session(bad)
    other = _rewrite_manifest(good, tmp_path / "other.mcsession", format="something-else")
    with pytest.raises(SessionError, match="not a modalchorus session"):
        load_session(other)


def test_refuses_missing_member(chorus, tmp_path):
    good = save_session(chorus, tmp_path / "good.mcsession")
    with zipfile.ZipFile(good) as z:
        members = {n: z.read(n) for n in z.namelist() if n != "state.npz"}
    broken = tmp_path / "broken.mcsession"
    with zipfile.ZipFile(broken, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(SessionError, match="incomplete or corrupt"):
        load_session(broken)


def test_failed_save_keeps_previous_file(chorus, tmp_path, monkeypatch):
    """An exception while writing (disk full, Ctrl-C) leaves the old file intact and no temp file."""
    p = save_session(chorus, tmp_path / "s.mcsession")
    before = p.read_bytes()
    import modalchorus_widget.data.embeddings as E

    real = os.fsync

    def boom(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(E.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        save_session(chorus, p)
    monkeypatch.setattr(E.os, "fsync", real)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["s.mcsession"]
    load_session(p)


_BIG_SAVE = textwrap.dedent("""
    import sys
    import numpy as np
    from modalchorus_widget.data.embeddings import EmbeddingSet
    from modalchorus_widget.widget.chorus import save_session
    from modalchorus_widget.widget.chorus import Chorus
    n, d = int(sys.argv[2]), 512
    rng = np.random.default_rng(1)
    v = rng.standard_normal((n, d), dtype=np.float32)
    es = EmbeddingSet(v, modality=np.where(np.arange(n) % 2 == 0, "image", "text"))
    w = Chorus(es, positions=rng.standard_normal((n, 2)).astype(np.float32), color_by="modality")
    print("ready", flush=True)
    save_session(w, sys.argv[1])
    print("saved", flush=True)
""")


@pytest.mark.slow
def test_sigkill_mid_save_keeps_previous_file(chorus, tmp_path):
    """Kill -9 a process while it writes a big session over the file: the previous session still loads."""
    p = tmp_path / "s.mcsession"
    save_session(chorus, p)
    before = p.read_bytes()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", _BIG_SAVE, str(p), "120000"], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        # wait until the new content is being written into the temp file beside the target, then kill
        deadline = time.monotonic() + 240
        tmp = []
        while time.monotonic() < deadline and proc.poll() is None:
            tmp = [f for f in tmp_path.iterdir() if f.name.startswith(".s.mcsession.") and f.stat().st_size > 0]
            if tmp:
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the save finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert tmp, "never saw the temp file being written"
    assert p.read_bytes() == before
    w = load_session(p)
    np.testing.assert_array_equal(w.positions, chorus.positions)
    assert len(w.aligner.history_) == len(chorus.aligner.history_)
