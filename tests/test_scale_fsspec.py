"""The scale pipeline on fsspec URLs: ``memory://`` (fsspec's in-process filesystem, a real remote-style store:
no memory-mapping, listings and puts through fsspec) and ``file://`` (on a local Ray). Every result is
checked against the same job on a plain local folder. The raw items are the jittered digits of test_scale."""

import importlib.util
import uuid

import numpy as np
import pytest

pytest.importorskip("ray")
fsspec = pytest.importorskip("fsspec")
pytestmark = pytest.mark.slow  # a local Ray cluster per module: in `make test`, not in the fast tier

from test_scale import N_ITEMS, SHARD, digits_table  # noqa: E402

from modalchorus_widget import scale  # noqa: E402
from modalchorus_widget.errors import DatasetError, InputError, MissingFileError, StorageUnavailableError  # noqa: E402
from modalchorus_widget.scale import layout as L  # noqa: E402
from modalchorus_widget.scale.storage import LocalStore, RemoteStore, open_store  # noqa: E402


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    df = digits_table(N_ITEMS // 2, seed=5)
    df.to_parquet(d / "items.parquet", row_group_size=64)
    return scale.TableSource(d / "items.parquet", image_column="image"), df


@pytest.fixture
def mem():
    """A fresh folder on fsspec's memory filesystem, removed afterwards."""
    url = f"memory://mc-{uuid.uuid4().hex[:8]}"
    yield url
    fs = fsspec.filesystem("memory")
    for path in [p for p in fs.store if p.startswith(url[len("memory://") - 1 :])]:
        fs.store.pop(path, None)


@pytest.fixture(scope="module")
def plain(table, tmp_path_factory):
    """The table encoded into a local folder (the reference)."""
    src, _ = table
    root = tmp_path_factory.mktemp("plain")
    scale.encode_to_shards(src, root / "emb", shard_size=SHARD, engine="local")
    return root / "emb"


@pytest.fixture(scope="module")
def mfm(plain):
    from modalchorus_widget.projection.mfm import MFM

    return MFM(n_steps=25, verbose=False, random_state=0).fit(scale.load_embeddings(plain, max_points=200))


def test_urls_open_the_right_store(tmp_path):
    assert isinstance(open_store(tmp_path), LocalStore)
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)
    assert open_store(f"file://{tmp_path}").path() == tmp_path  # memory-mapped like a path
    store = open_store("memory://some/where")
    assert isinstance(store, RemoteStore) and not store.local and not store.shared
    assert store.path("img_emb/img_emb_0.npy") == "memory:///some/where/img_emb/img_emb_0.npy"  # fsspec's form
    assert store.sibling("where.aligned-1").url == "memory:///some/where.aligned-1"


def test_encode_load_project_align_lasso_on_memory_match_a_local_folder(table, plain, mfm, mem, tmp_path):
    src, df = table
    n_shards = (N_ITEMS // 2) // SHARD
    rep = scale.encode_to_shards(src, mem, shard_size=SHARD, engine="local")
    assert rep.written == list(range(n_shards)) and rep.folder == open_store(mem).url
    fs = fsspec.filesystem("memory")
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{mem}/img_emb", detail=False))
    assert names == [f"img_emb_{k}.npy" for k in range(n_shards)]  # clip-retrieval's names, on the store
    assert not [p for p in fs.find(mem) if p.endswith(".tmp")]  # every temp name was moved into place
    # read: the same rows, ids and vectors as the local folder (no memory map: read shard by shard)
    got, want = scale.load_embeddings(mem), scale.load_embeddings(plain)
    assert list(got.ids) == list(want.ids) and np.array_equal(got.vectors, want.vectors)
    sample = scale.load_embeddings(mem, max_points=50)
    assert sample.n == 50 and np.array_equal(sample.vectors, want.vectors[sample.frame["row"].to_numpy()])
    # project: the same fitted map writes the same positions
    scale.project_shards(plain, mfm, engine="local")
    prep = scale.project_shards(mem, mfm, engine="local")
    assert prep.rows == 2 * len(df)
    sh_mem, sh_plain = scale.open_shards(mem), scale.open_shards(plain)
    rows = np.arange(sh_mem.n)
    pos = sh_mem.take(rows, positions=True)
    assert np.array_equal(pos, sh_plain.take(rows, positions=True))
    assert scale.load_projector(mem).to_bytes() == mfm.to_bytes()
    # lasso and density stream over the remote positions shards
    c, r = pos.mean(0), pos.std(0)
    poly = c + r * np.array([[-1.5, -1.2], [0.3, -1.6], [1.4, -0.2], [0.2, 1.5], [-1.0, 0.6]])
    a, b = scale.lasso_rows(mem, poly), scale.lasso_rows(plain, poly)
    assert 0 < a.count < sh_mem.n and np.array_equal(a.rows, b.rows)
    spilled = scale.lasso_rows(mem, poly, limit=3, out=tmp_path / "ids.npy")
    assert spilled.path == tmp_path / "ids.npy" and np.array_equal(spilled.load(), b.rows)
    assert scale.density_grid(mem, 32)[0].sum() == sh_mem.n
    # align: a saved round applied to every shard into memory://<name>.aligned-1; the old folder stays
    from modalchorus_widget.alignment import Aligner
    from modalchorus_widget.alignment.constraints import PointSet

    al = Aligner(n_steps=10, random_state=0).fit(want)
    al.step(PointSet(int(np.flatnonzero(want.modality == "text")[0]), np.flatnonzero(want.modality == "image")[:8]))
    al.save(tmp_path / "al.zip")
    before = fs.cat_file(f"{mem}/img_emb/img_emb_0.npy")
    out = scale.align_shards(mem, tmp_path / "al.zip", engine="local")
    ref = scale.align_shards(plain, tmp_path / "al.zip", engine="local")
    assert out.folder == open_store(f"{mem}.aligned-1").url and fs.cat_file(f"{mem}/img_emb/img_emb_0.npy") == before
    aligned = scale.load_embeddings(out.folder)
    assert np.array_equal(aligned.vectors, scale.load_embeddings(ref.folder).vectors)
    assert np.abs(aligned.vectors - want.vectors).max() > 1e-4
    for p in [p for p in fs.store if p.startswith(f"/{mem[len('memory://') :]}.aligned")]:
        fs.store.pop(p)


def test_resume_on_memory_skips_finished_shards(table, mem):
    src, df = table

    def stop_after_two(shard, rows):
        if shard == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scale.encode_to_shards(src, mem, shard_size=SHARD, engine="local", on_shard=stop_after_two)
    with pytest.raises(DatasetError, match="not complete"):
        scale.open_shards(mem)
    rep = scale.encode_to_shards(src, mem, shard_size=SHARD, engine="local")
    assert rep.skipped == [0, 1] and rep.written == list(range(2, (N_ITEMS // 2) // SHARD))
    assert scale.open_shards(mem).metadata()["id"].tolist() == df["id"].tolist()


def test_file_urls_on_ray_encode_fit_and_project(table, plain, tmp_path):
    src, _ = table
    scale.start(num_cpus=2, object_store_bytes=128 << 20)
    try:
        url = f"file://{tmp_path}/emb"
        rep = scale.encode_to_shards(src, url, shard_size=SHARD, engine="ray")
        assert rep.folder == tmp_path / "emb"
        a, b = scale.load_embeddings(url), scale.load_embeddings(plain)
        assert np.abs(a.vectors - b.vectors).max() <= 1e-6 and list(a.ids) == list(b.ids)  # the promised bound
        # the MFM is fitted in a Ray task on the sample; the driver gets only the fitted map
        from modalchorus_widget.projection.mfm import MFM

        unfitted = MFM(n_steps=25, verbose=False, random_state=0)
        prep = scale.project_shards(url, unfitted, sample=200, engine="ray")
        assert not unfitted.is_fitted() and prep.rows == a.n and prep.fit_seconds > 0
        fitted = scale.load_projector(url)
        pos = scale.open_shards(url).take(np.arange(a.n), positions=True)
        assert np.abs(pos - fitted.transform(a.vectors)).max() <= 1e-6
    finally:
        scale.stop()


def test_a_process_local_store_is_refused_on_ray(table, mem):
    src, _ = table
    with pytest.raises(InputError, match="lives in this process only"):
        scale.encode_to_shards(src, mem, shard_size=SHARD, engine="ray")


def test_a_truncated_remote_shard_is_refused_naming_the_file(mem):
    fs = fsspec.filesystem("memory")
    store = open_store(mem)
    for kind in ("img_emb", "text_emb"):
        store.save_npy(f"{kind}/{kind}_0.npy", np.ones((4, 8), np.float32))
    blob = fs.cat_file(f"{mem}/img_emb/img_emb_0.npy")
    fs.pipe_file(f"{mem}/img_emb/img_emb_0.npy", blob[:-10])
    sh = scale.open_shards(mem)  # headers agree
    with pytest.raises(DatasetError, match=r"img_emb/img_emb_0\.npy: .*truncated"):
        sh.take([0])
    fs.pipe_file(f"{mem}/text_emb/text_emb_0.npy", b"\x93NUMPY junk")
    with pytest.raises(DatasetError, match=r"text_emb_0\.npy: not a readable \.npy"):
        scale.open_shards(mem)
    with pytest.raises(DatasetError, match="not a shard layout"):
        scale.open_shards(f"{mem}/img_emb")


@pytest.mark.parametrize(("url", "package"), [("s3://bucket/emb", "s3fs"), ("gs://bucket/emb", "gcsfs")])
def test_a_missing_filesystem_package_is_named(url, package):
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here, so its absence cannot be shown")
    with pytest.raises(StorageUnavailableError, match=package):
        scale.load_embeddings(url)
    with pytest.raises(StorageUnavailableError, match=package):
        L.is_done(url, 0, 1)


def test_remote_sources_table_csv_of_paths_and_tars_encode_as_local_ones(table, plain, mem, tmp_path):
    import io
    import tarfile

    import pandas as pd

    src, df = table
    fs = fsspec.filesystem("memory")
    store = open_store(mem)
    # the parquet table (image bytes) on the store, encoded onto the store: the local folder's vectors
    buf = io.BytesIO()
    df.to_parquet(buf, row_group_size=64)
    store.write_bytes("src/items.parquet", buf.getvalue())
    remote = scale.TableSource(f"{mem}/src", image_column="image")
    rep = scale.encode_to_shards(remote, f"{mem}/a", shard_size=SHARD, engine="local")
    assert rep.rows == len(df)
    a, ref = scale.load_embeddings(f"{mem}/a"), scale.load_embeddings(plain)
    assert np.abs(a.vectors - ref.vectors).max() <= 1e-6 and list(a.ids) == list(ref.ids)
    # a CSV of image paths relative to it, one of them missing: the error names the table, row and file
    for i in range(12):
        store.write_bytes(f"csv/img/{i}.png", df["image"][i])
    frame = pd.DataFrame({"image_path": [f"img/{i}.png" for i in range(12)], "caption": df["caption"][:12]})
    store.write_bytes("csv/t.csv", frame.to_csv(index=False).encode())
    b = scale.encode_to_shards(f"{mem}/csv/t.csv", tmp_path / "b", shard_size=5, engine="local")
    got = scale.load_embeddings(tmp_path / "b")
    assert b.rows == 12 and np.abs(got.vectors[:12] - ref.vectors[:12]).max() <= 1e-6
    assert got.frame["image_path"].tolist()[:2] == ["img/0.png", "img/1.png"]
    fs.rm(f"{mem}/csv/img/7.png")
    with pytest.raises(MissingFileError, match=r"t\.csv row 7 .*img/7\.png"):
        scale.encode_to_shards(f"{mem}/csv/t.csv", tmp_path / "c", shard_size=5, engine="local")
    assert L.is_done(tmp_path / "c", 0, 3) and not L.is_done(tmp_path / "c", 1, 3)  # finished shard kept
    # webdataset tars on the store
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for _, row in df.iloc[:10].iterrows():
            for ext, data in (("png", row["image"]), ("txt", row["caption"].encode())):
                info = tarfile.TarInfo(f"{row['id']}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    store.write_bytes("wds/00000.tar", raw.getvalue())
    w = scale.encode_to_shards(f"{mem}/wds", f"{mem}/w", engine="local")
    ew = scale.load_embeddings(f"{mem}/w")
    assert w.n_shards == 1 and ew.frame["item_id"].tolist()[:10] == df["id"].tolist()[:10]
    assert np.abs(ew.vectors[:10] - ref.vectors[:10]).max() <= 1e-6
    with pytest.raises(InputError, match="image folder is read from this machine"):
        scale.ImageFolder(f"{mem}/csv/img")
