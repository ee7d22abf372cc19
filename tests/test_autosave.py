"""Crash safety and concurrency: ``Chorus(autosave=path)`` writes the session after every round
and named-set change; after SIGKILL of a real kernel-like process ``Chorus.load`` gives back the last round
bit-exact; a second alignment round asked for while one runs is refused clearly and changes nothing."""

import numpy as np
import pytest

from benchmarks import reliability_autosave as AS
from benchmarks import reliability_concurrency as CC
from benchmarks import reliability_context as X
from modalchorus_widget.widget.chorus import Chorus


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    with X.Ctx(tmp=tmp_path_factory.mktemp("autosave")) as c:
        yield c


def test_autosave_after_set_change_and_round(ctx, tmp_path):
    from modalchorus_widget.alignment import Aligner, PointSet

    es = ctx.es
    a = Aligner(n_steps=3, n_reference=32, n_candidates=32, batch_size=32, hidden=8, random_state=0).fit(es)
    f = tmp_path / "auto.mcsession"
    w = Chorus(es, projector="PCA", aligner=a, autosave=f)
    assert f.exists()
    w.sets["s"] = [1, 2, 3]
    assert Chorus.load(f).sets["s"].tolist() == [1, 2, 3]
    w.align(PointSet(ctx.n_pairs, np.arange(3)))
    v = Chorus.load(f)
    assert v.state.rounds == 1 and np.array_equal(v.embeddings.vectors, w.embeddings.vectors)
    assert np.array_equal(np.asarray(v.positions), np.asarray(w.positions))
    assert not list(tmp_path.glob(".auto.mcsession.*"))  # atomic: no temp file left


@pytest.mark.slow
def test_recovery_after_kill_9(tmp_path):
    r = AS.autosave_kill9(tmp_path)
    assert r["recovered"], r


def test_concurrent_align_refused_clearly(ctx):
    r = CC.concurrent_align(ctx)
    assert r["ok"], r
