"""Files from elsewhere: every row of ``reliability_hostile.HOSTILE_FILES`` is refused with an
``UntrustedFileError`` that says why and how to proceed, before anything is inflated, and nothing already
loaded changes; a 10 GiB zip bomb is refused in a fresh process with peak RSS under 200 MB."""

import io
import zipfile

import numpy as np
import pytest

from benchmarks import reliability_context as X
from benchmarks import reliability_hostile as HF
from modalchorus_widget import safe_zip
from modalchorus_widget.errors import SessionError, UntrustedFileError


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    with X.Ctx(tmp=tmp_path_factory.mktemp("hostile")) as c:
        yield c


@pytest.mark.parametrize("case", HF.HOSTILE_FILES, ids=[c.name for c in HF.HOSTILE_FILES])
def test_hostile_file_is_refused(case, ctx):
    out = HF.run_hostile_file(case, ctx)
    assert out.refused, f"{case.where}: {out.raised}: {out.message}"
    assert not out.state_changed, out.state_changed


def test_untrusted_is_a_session_error():
    assert issubclass(UntrustedFileError, SessionError)


def test_own_session_still_loads_bit_exact(ctx):
    from modalchorus_widget.widget.chorus import Chorus

    w = ctx.chorus
    p = w.save(ctx.tmp / "own.mcsession")
    v = Chorus.load(p)
    assert np.array_equal(v.embeddings.vectors, w.embeddings.vectors)
    assert np.array_equal(np.asarray(v.positions), np.asarray(w.positions))
    assert {k: v.sets[k].tolist() for k in v.sets} == {k: w.sets[k].tolist() for k in w.sets}


def test_foreign_session_never_reads_item_paths(ctx, tmp_path):
    """Thumbnails of a loaded session come from its own bytes; a path it names is not opened."""
    from PIL import Image

    from modalchorus_widget.data.embeddings import EmbeddingSet
    from modalchorus_widget.widget.chorus import Chorus

    img, txt, _ = ctx.pairs()
    pics = []
    for i in range(4):
        p = tmp_path / f"p{i}.png"
        Image.new("RGB", (20, 20), (50 * i, 0, 0)).save(p)
        pics.append(str(p))
    es = EmbeddingSet.from_pairs(img[:4], txt[:4], image_items=pics)
    w = Chorus(es, projector="PCA", color_by="modality")
    f = w.save(tmp_path / "s.mcsession")
    for p in pics[1:]:
        (tmp_path / p).unlink()
    v = Chorus.load(f)
    assert v.tooltip(1).get("png") is not None  # from the bytes stored in the session
    # a session naming a path it holds no thumbnail for: the path is not read (absent thumbnail)
    v._stored_thumbs.clear()
    v._thumbs.clear()
    assert "png" not in v.tooltip(0)
    assert "png" in Chorus.load(f, item_folders=[tmp_path]).tooltip(0)  # the user allows the folder


def test_safe_zip_checks_names_and_members():
    for bad in ("/abs", "a/../../b", "..", "c:\\x", "a\\b", "x\x00y"):
        with pytest.raises(UntrustedFileError):
            safe_zip.check_member_name(bad, "t")
    safe_zip.check_member_name("round_001.safetensors", "t")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a", b"1")
        z.writestr("a", b"2")
    with pytest.raises(UntrustedFileError, match="twice"):
        safe_zip.SafeZip(buf.getvalue(), "t")


def test_regular_file_only(tmp_path):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    with pytest.raises(UntrustedFileError, match="regular file"):
        EmbeddingSet.load("/dev/zero")


def test_zip_bomb_written_cheaply_claims_10_gib(tmp_path):
    p = HF.write_zip_bomb(tmp_path / "b.zip", gib=10)
    assert p.stat().st_size < 20 * 2**20
    with zipfile.ZipFile(p) as z:
        assert z.infolist()[0].file_size == 10 * 2**30
        with z.open(z.infolist()[0]) as f:  # it really inflates to zeros
            assert f.read(1 << 20) == bytes(1 << 20)


def test_10_gib_bomb_refused_with_small_peak_rss():
    from benchmarks import reliability as R

    r = R._run_probe("bomb", [10], 300)
    assert r.get("refused"), r
    assert r["rss_mb_peak"] < 200, r
