"""scale/: encode -> shards -> load -> project -> align -> widget lasso on a real local Ray (2 CPUs), checked
against the in-memory path on the same rows; clip-retrieval's own layout; a killed worker; resume; bad input.

Raw items are jittered 8x8 digits (scikit-learn's load_digits) as PNG bytes in a parquet table, with captions,
encoded by the embedded default model."""

import io
import os
import signal

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray")

from modalchorus_widget import scale  # noqa: E402
from modalchorus_widget.encoders import DefaultEncoder, FunctionEncoder  # noqa: E402
from modalchorus_widget.errors import DatasetError, EncoderError, ImageDecodeError, MissingFileError  # noqa: E402
from modalchorus_widget.scale import layout as L  # noqa: E402

pytestmark = pytest.mark.slow  # a local Ray cluster per module: in `make test`, not in the fast tier

N_ITEMS, SHARD = 240, 20  # 12 shards: two-digit names, as clip-retrieval pads them


def _png(a) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.clip(a, 0, 16) * 15.9).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def digits_table(n: int, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d.images), n)
    return pd.DataFrame(
        {
            "id": [f"d{seed}-{i:05d}" for i in range(n)],
            "image": [_png(d.images[j] + rng.normal(0, 1, (8, 8))) for j in idx],
            "caption": [f"a handwritten {d.target[j]}" for j in idx],
            "label": d.target[idx].astype(str),
        }
    )


@pytest.fixture(scope="module")
def ray_local():
    scale.start(num_cpus=2, object_store_bytes=128 << 20)
    yield
    scale.stop()


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    df = digits_table(N_ITEMS)
    df.to_parquet(d / "items.parquet", row_group_size=64)
    return d / "items.parquet", df


@pytest.fixture(scope="module")
def encoded(table, ray_local, tmp_path_factory):
    """The table encoded by both engines, and the in-memory embeddings of the same rows."""
    path, df = table
    root = tmp_path_factory.mktemp("enc")
    src = scale.TableSource(path, image_column="image")
    reports = {e: scale.encode_to_shards(src, root / e, shard_size=SHARD, engine=e) for e in ("local", "ray")}
    from PIL import Image

    enc = DefaultEncoder()
    images = [Image.open(io.BytesIO(b)) for b in df["image"]]
    memory = np.concatenate([enc.encode_images(images), enc.encode_texts(df["caption"].tolist())])
    return root, reports, memory, df


@pytest.fixture(scope="module")
def mfm(encoded):
    from modalchorus_widget.projection.mfm import MFM

    root, _, _, _ = encoded
    m = MFM(n_steps=25, verbose=False, random_state=0)
    return m.fit(scale.load_embeddings(root / "local", max_points=300))


def test_encode_writes_clip_retrieval_layout_identically_on_both_engines(encoded):
    root, reports, memory, df = encoded
    n_shards = N_ITEMS // SHARD
    for e, rep in reports.items():
        assert rep.written == list(range(n_shards)) and rep.skipped == [] and rep.rows == N_ITEMS
        names = sorted(os.listdir(root / e / "img_emb"))
        assert names == [f"img_emb_{k:02d}.npy" for k in range(n_shards)]
        assert sorted(os.listdir(root / e / "text_emb")) == [f"text_emb_{k:02d}.npy" for k in range(n_shards)]
        assert sorted(os.listdir(root / e / "metadata")) == [f"metadata_{k:02d}.parquet" for k in range(n_shards)]
    for k in range(n_shards):
        for kind in ("img_emb", "text_emb"):
            a = np.load(root / "local" / kind / f"{kind}_{k:02d}.npy")
            b = np.load(root / "ray" / kind / f"{kind}_{k:02d}.npy")
            assert a.dtype == np.float32 and a.shape == (SHARD, 384)
            assert np.abs(a - b).max() <= 1e-6
        meta = pd.read_parquet(root / "ray" / "metadata" / f"metadata_{k:02d}.parquet")
        assert meta["id"].tolist() == df["id"].iloc[k * SHARD : (k + 1) * SHARD].tolist()  # row-aligned
        assert meta["caption"].tolist() == df["caption"].iloc[k * SHARD : (k + 1) * SHARD].tolist()
    es = scale.load_embeddings(root / "ray")
    assert es.n == 2 * N_ITEMS and np.abs(es.vectors - memory).max() <= 1e-5  # same as the in-memory path


def test_load_project_lasso_widget_match_the_in_memory_path(encoded, mfm):
    root, _, memory, df = encoded
    for e in ("local", "ray"):
        rep = scale.project_shards(root / e, mfm, engine=e)
        assert rep.rows == 2 * N_ITEMS
    sh = scale.open_shards(root / "ray")
    rows = np.arange(sh.n)
    pos = sh.take(rows, positions=True)
    # each engine places its folder's vectors exactly as MFM.transform does in memory
    for e in ("local", "ray"):
        got = scale.open_shards(root / e).take(rows, positions=True)
        assert np.abs(got - mfm.transform(scale.load_embeddings(root / e).vectors)).max() <= 1e-6
    # vs the in-memory embeddings: text vectors differ by ~1e-7 with the batches the encoder saw, which the map
    # (positions of size ~10) turns into a few 1e-6
    expected = mfm.transform(memory)
    assert np.abs(pos - expected).max() <= 1e-4
    # a lasso over every row equals the in-memory point-in-polygon test on the same positions, in memory
    c = expected.mean(0)
    r = expected.std(0)
    poly = c + r * np.array([[-1.5, -1.2], [0.3, -1.6], [1.4, -0.2], [0.2, 1.5], [-1.0, 0.6]])
    mem_rows = np.flatnonzero(_brute_force_inside(pos, poly))
    res = scale.lasso_rows(root / "ray", poly)
    assert 0 < res.count < sh.n and np.array_equal(res.rows, mem_rows)
    spilled = scale.lasso_rows(root / "ray", poly, limit=5)
    assert spilled.rows is None and spilled.path.is_file() and np.array_equal(spilled.load(), mem_rows)
    # the widget: a stratified sample at the shards' positions, the density of all rows, full-data lasso
    w = scale.chorus_from_shards(root / "ray", max_points=100)
    assert w.n == 100 and w.total_rows == sh.n and "stand for 480 rows" in w.rows_notice
    sample_rows = w.embeddings.frame["row"].to_numpy()
    assert (w.embeddings.modality == "image").sum() == 50
    assert np.array_equal(np.asarray(w.positions), pos[sample_rows])
    counts = np.frombuffer(w.density, np.uint8).reshape(w.density_shape)
    assert counts.shape == (256, 256) and (counts > 0).sum() > 50
    grid, _ = scale.density_grid(sh, 64)
    assert grid.sum() == sh.n
    # the browser's lasso polygon, through the comm as js/src/ui/density.js sends it
    content = {"type": "lasso_polygon", "points": poly.ravel().tolist()}
    w._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
    assert w.full_selected_count == len(mem_rows) and np.array_equal(w.full_selection.rows, mem_rows)
    assert f"lasso: {len(mem_rows):,} of 480 rows" in w.sample_notice


def _brute_force_inside(xy, poly):
    inside = np.zeros(len(xy), bool)
    for i, (x, y) in enumerate(xy):
        j = len(poly) - 1
        for k in range(len(poly)):
            (xk, yk), (xj, yj) = poly[k], poly[j]
            if (yk > y) != (yj > y) and x < (xj - xk) * (y - yk) / (yj - yk) + xk:
                inside[i] = not inside[i]
            j = k
    return inside


def test_align_shards_applies_saved_rounds_into_a_new_folder(encoded, tmp_path):
    from modalchorus_widget.alignment import Aligner
    from modalchorus_widget.alignment.constraints import PointSet

    root, _, memory, df = encoded
    es = scale.load_embeddings(root / "ray")
    al = Aligner(n_steps=20, random_state=0).fit(es)
    anchor = int(np.flatnonzero(es.modality == "text")[0])
    al.step(PointSet(anchor, np.flatnonzero(es.modality == "image")[:10]))
    al.save(tmp_path / "al.zip")
    before = {p: p.read_bytes() for p in (root / "ray" / "img_emb").iterdir()}
    out_ray = scale.align_shards(root / "ray", tmp_path / "al.zip", engine="ray").folder
    out_local = scale.align_shards(root / "ray", tmp_path / "al.zip", engine="local").folder
    assert out_ray.name == "ray.aligned-1" and out_local.name == "ray.aligned-2"
    # the patch file (numpy only, each round at its strength) gives the same vectors
    out_patch = scale.align_shards(root / "ray", al.export_patch(tmp_path / "al.mcpatch"), engine="local").folder
    assert before == {p: p.read_bytes() for p in (root / "ray" / "img_emb").iterdir()}  # the old one stays
    want = np.concatenate([al.transform(memory[:N_ITEMS], "image"), al.transform(memory[N_ITEMS:], "text")])
    for out in (out_ray, out_local, out_patch):
        got = scale.load_embeddings(out)
        assert np.abs(got.vectors - want).max() <= 1e-5 and list(got.ids) == list(es.ids)
    assert np.abs(got.vectors - es.vectors).max() > 1e-4  # the round did move something


def test_a_clip_retrieval_folder_written_by_hand_is_read(tmp_path):
    rng = np.random.default_rng(1)
    rows = [7, 5]
    for k, n in enumerate(rows):  # float16, no id column: as clip-retrieval's inference writes them
        for kind in ("img_emb", "text_emb"):
            (tmp_path / kind).mkdir(exist_ok=True)
            v = rng.normal(size=(n, 16)).astype(np.float16)
            np.save(tmp_path / kind / f"{kind}_{k}.npy", v)
        (tmp_path / "metadata").mkdir(exist_ok=True)
        pd.DataFrame(
            {"image_path": [f"im{k}_{i}.jpg" for i in range(n)], "caption": [f"c{k}{i}" for i in range(n)]}
        ).to_parquet(tmp_path / "metadata" / f"metadata_{k}.parquet")
    es = scale.load_embeddings(tmp_path)
    assert es.n == 24 and es.dim == 16 and es.vectors.dtype == np.float32
    img1 = np.load(tmp_path / "img_emb" / "img_emb_1.npy").astype(np.float32)
    row = int(np.flatnonzero(es.frame["item_id"] == "im1_2.jpg")[0])
    assert es.modality[row] == "image"
    assert np.allclose(es.vectors[row], img1[2] / np.linalg.norm(img1[2]), atol=1e-6)
    txt = es.frame[es.frame["modality"] == "text"]
    assert txt["item"].tolist()[:3] == ["c00", "c01", "c02"]


def test_a_killed_worker_mid_encode_loses_and_duplicates_nothing(table, ray_local, tmp_path):
    import psutil

    path, df = table
    killed = []

    def kill_one(shard, rows):
        if not killed:
            procs = [
                p
                for p in psutil.process_iter(["cmdline"])
                if any("_EncodeWorker" in c for c in p.info["cmdline"] or [])
            ]
            busy = [p for p in procs if any(".submit" in c for c in p.info["cmdline"])] or procs
            busy[0].send_signal(signal.SIGKILL)
            killed.append(busy[0].pid)

    rep = scale.encode_to_shards(
        scale.TableSource(path, image_column="image"), tmp_path / "k", shard_size=SHARD, engine="ray", on_shard=kill_one
    )
    assert killed and rep.written == list(range(N_ITEMS // SHARD))
    ids = scale.open_shards(tmp_path / "k").metadata()["id"]
    assert sorted(ids) == sorted(df["id"]) and ids.is_unique


def test_resume_after_a_stop_finishes_without_redoing_finished_shards(table, tmp_path):
    path, df = table
    src = scale.TableSource(path, image_column="image")

    def stop_after_three(shard, rows):
        if shard == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scale.encode_to_shards(src, tmp_path / "r", shard_size=SHARD, engine="local", on_shard=stop_after_three)
    with pytest.raises(DatasetError, match="not complete"):
        scale.open_shards(tmp_path / "r")
    stamps = {k: os.stat(L.shard_path(tmp_path / "r", "image", k, 12)).st_mtime_ns for k in range(3)}
    rep = scale.encode_to_shards(src, tmp_path / "r", shard_size=SHARD, engine="local")
    assert rep.skipped == [0, 1, 2] and rep.written == list(range(3, 12))
    assert stamps == {k: os.stat(L.shard_path(tmp_path / "r", "image", k, 12)).st_mtime_ns for k in range(3)}
    ids = scale.open_shards(tmp_path / "r").metadata()["id"]
    assert ids.tolist() == df["id"].tolist()


def test_bad_input_names_the_file_and_row_and_keeps_finished_shards(table, ray_local, tmp_path):
    path, df = table
    # a missing image file in a table of paths
    d = tmp_path / "paths"
    d.mkdir()
    for i in range(30):
        (d / f"{i}.png").write_bytes(df["image"][i])
    (d / "12.png").unlink()
    pd.DataFrame({"image_path": [f"{i}.png" for i in range(30)]}).to_csv(d / "t.csv", index=False)
    with pytest.raises(MissingFileError, match=r"t\.csv row 12 .*12\.png"):
        scale.encode_to_shards(d / "t.csv", tmp_path / "m", shard_size=10, engine="local")
    assert L.is_done(tmp_path / "m", 0, 3) and not L.is_done(tmp_path / "m", 1, 3)
    assert np.load(L.shard_path(tmp_path / "m", "image", 0, 3)).shape == (10, 384)
    # an undecodable image, on Ray: the worker's error comes back as itself, with the row
    bad = df.iloc[:40].copy()
    bad.loc[33, "image"] = b"not an image at all"
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ImageDecodeError, match=r"bad\.parquet row 33"):
        scale.encode_to_shards(
            scale.TableSource(tmp_path / "bad.parquet", image_column="image"),
            tmp_path / "u",
            shard_size=SHARD,
            engine="ray",
        )
    assert L.is_done(tmp_path / "u", 0, 2) and not L.is_done(tmp_path / "u", 1, 2)
    # an encoder of another dimension than the shards already there
    src = scale.TableSource(tmp_path / "bad.parquet", image_column="image")
    eight = FunctionEncoder(images=lambda xs: np.ones((len(xs), 8)), texts=lambda xs: np.ones((len(xs), 8)), dim=8)
    with pytest.raises(EncoderError, match=r"8-d .* 384-d .*img_emb_0\.npy"):
        scale.encode_to_shards(src, tmp_path / "u", eight, shard_size=SHARD, engine="local")
    assert np.load(L.shard_path(tmp_path / "u", "image", 0, 2)).shape == (SHARD, 384)
    # shards with mismatched row counts
    f = tmp_path / "mis"
    for kind, n in (("img_emb", 4), ("text_emb", 3)):
        (f / kind).mkdir(parents=True)
        np.save(f / kind / f"{kind}_0.npy", np.ones((n, 4), np.float32))
    with pytest.raises(DatasetError, match=r"shard 0 has mismatched row counts .*img_emb_0\.npy: 4 rows"):
        scale.load_embeddings(f)
    # a folder that is not a shard layout
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.npy").write_bytes(b"")
    with pytest.raises(DatasetError, match="is not a shard layout"):
        scale.open_shards(tmp_path / "plain")


def test_image_folder_and_webdataset_sources(tmp_path):
    import tarfile

    df = digits_table(12, seed=3)
    (tmp_path / "imgs").mkdir()
    with tarfile.open(tmp_path / "00000.tar", "w") as tar:
        for i, row in df.iterrows():
            (tmp_path / "imgs" / f"{i:02d}.png").write_bytes(row["image"])
            (tmp_path / "imgs" / f"{i:02d}.txt").write_text(row["caption"])
            for ext, data in (
                ("png", row["image"]),
                ("txt", row["caption"].encode()),
                ("json", b'{"label": "%s"}' % row["label"].encode()),
            ):
                info = tarfile.TarInfo(f"{row['id']}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    a = scale.encode_to_shards(tmp_path / "imgs", tmp_path / "fa", shard_size=5, engine="local")
    b = scale.encode_to_shards(tmp_path / "00000.tar", tmp_path / "wb", engine="local")
    assert a.n_shards == 3 and b.n_shards == 1
    ea, eb = scale.load_embeddings(tmp_path / "fa"), scale.load_embeddings(tmp_path / "wb")
    assert ea.n == eb.n == 24 and np.abs(ea.vectors - eb.vectors).max() <= 1e-5
    assert eb.labels.tolist()[:12] == df["label"].tolist() and eb.frame["item_id"].tolist()[:12] == df["id"].tolist()
