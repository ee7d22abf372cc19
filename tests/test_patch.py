"""The patch file (alignment/patch.py): a session's rounds at their strength, out of the notebook, applied with
numpy alone; a file from elsewhere is checked like any untrusted file. Real data: COCO-500 CLIP embeddings."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from modalchorus_widget import Aligner, EmbeddingSet, Patch, load_coco500
from modalchorus_widget.alignment import patch as P
from modalchorus_widget.alignment.constraints import PointSet, SetSet
from modalchorus_widget.errors import UntrustedFileError


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    """Two fast rounds (the second at a strength of the user's) and an anchor round on COCO-500 pairs."""
    es = load_coco500().embeddings
    n = int((es.modality == "image").sum())
    fast = Aligner(n_steps=30, validation=0.0, guard=dict(tolerance=0.05)).fit(es)
    fast.step(SetSet(np.arange(100), np.arange(n, n + 100), paired=True))
    fast.step(PointSet(n + 120, np.arange(200, 230)))
    fast.set_strength(0.6)
    anchors = Aligner(mode="anchors", n_steps=30).fit(es)
    anchors.step(PointSet(n + 120, np.arange(200, 230)))
    folder = tmp_path_factory.mktemp("patch")
    return {m: (al, al.export_patch(folder / f"{m}.mcpatch")) for m, al in (("fast", fast), ("anchors", anchors))}


def test_patch_round_trips_bit_exactly_and_keeps_alpha_and_provenance(rounds, tmp_path):
    al, path = rounds["fast"]
    data = path.read_bytes()
    p = Patch.load(path)
    assert p.to_bytes() == data  # bit for bit
    assert al.history_[-1].export(path.with_suffix(".last")).read_bytes() == data  # Round.export: the chain to it
    assert [r["alpha"] for r in p.rounds] == [r.alpha for r in al.history_] and p.rounds[-1]["alpha"] == 0.6
    assert not any(r.is_identity for r in al.history_)
    for r in al.history_:
        for k, v in r.tensors.items():
            assert np.array_equal(p.tensors[f"r{r.index}.{k}"], v.numpy())
    assert p.provenance["shape"] == list(al._states[0].vectors.shape)
    assert p.provenance["sha256"] == P.vectors_hash(al._states[0].vectors)
    assert p.rounds[0]["constraints"][0]["kind"] == "set-set"


def test_anchor_patch_reproduces_the_session_bit_for_bit_and_gives_the_classifier(rounds):
    al, path = rounds["anchors"]
    p = Patch.load(path)
    es = al._states[0]
    assert np.array_equal(p.apply(es.vectors, es.modality), al.embeddings_.vectors)
    texts = np.flatnonzero(es.modality == "text")[115:125]
    names = [str(es.ids[i]) if es.labels is None else str(es.labels[i]) for i in texts]
    if len(set(names)) == len(names):
        assert np.array_equal(p.classifier(names), al.embeddings_.vectors[texts])


def test_patch_applies_in_a_process_without_torch(rounds, tmp_path):
    al, path = rounds["fast"]
    es = al._states[0]
    np.save(tmp_path / "v.npy", es.vectors)
    np.save(tmp_path / "m.npy", np.asarray(es.modality, dtype="U8"))
    code = (
        "import sys, numpy as np; from modalchorus_widget import Patch; "
        f"p = Patch.load({str(path)!r}); v = np.load({str(tmp_path / 'v.npy')!r}); "
        f"m = np.load({str(tmp_path / 'm.npy')!r}); np.save({str(tmp_path / 'out.npy')!r}, p.apply(v, m)); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    out = np.load(tmp_path / "out.npy")
    # the session's rounds ran the same numpy forward on the CPU: bit for bit, two rounds and a strength of 0.6
    assert np.array_equal(out, al.embeddings_.vectors)
    assert np.array_equal(P.Patch.load(path).apply(es.vectors, es.modality), al.embeddings_.vectors)
    # rows are computed one by one (small products padded): a few vectors on their own give the same bits
    assert np.array_equal(al.transform(es.vectors[:5], "image"), al.embeddings_.vectors[:5])


def test_hostile_patch_files_are_refused(rounds, tmp_path, monkeypatch):
    _, path = rounds["fast"]
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [header[name]["shape"][0] * 1000] + header[name]["shape"][1:]  # a lying header
    h = json.dumps(header).encode()
    (tmp_path / "lying.mcpatch").write_bytes(len(h).to_bytes(8, "little") + h + bytes(data[8 + n :]))
    with pytest.raises(UntrustedFileError, match="lies"):
        Patch.load(tmp_path / "lying.mcpatch")
    (tmp_path / "claims.mcpatch").write_bytes((10**9).to_bytes(8, "little") + bytes(data[8:]))
    with pytest.raises(UntrustedFileError, match="claims"):
        Patch.load(tmp_path / "claims.mcpatch")
    (tmp_path / "pickled.mcpatch").write_bytes(pickle.dumps({"weights": np.zeros(3)}))
    with pytest.raises(UntrustedFileError, match="pickle"):
        Patch.load(tmp_path / "pickled.mcpatch")
    monkeypatch.setattr(P, "MAX_PATCH_BYTES", 1000)
    with pytest.raises(UntrustedFileError, match="limit"):
        Patch.load(path)


def test_a_patch_whose_header_length_opens_like_a_pickle_still_loads():
    """A safetensors file opens with its header's length: a low byte of 0x80 (a pickle's first byte) is a length."""
    tensors = {"r0.w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    pads = ({"format": P.FORMAT, "version": P.FORMAT_VERSION, "pad": "x" * k} for k in range(512))
    meta, data = next((m, b) for m in pads if (b := P.to_bytes(tensors, m))[0] == 0x80)
    got, back = P.from_bytes(data, "test")
    assert np.array_equal(got["r0.w"], tensors["r0.w"]) and back == meta


def test_patch_of_an_identity_set_leaves_vectors(tmp_path):
    rng = np.random.default_rng(0)
    es = EmbeddingSet(rng.normal(size=(40, 8)).astype(np.float32), ["image"] * 30 + ["text"] * 10)
    al = Aligner().fit(es)
    p = Patch.load(al.export_patch(tmp_path / "empty.mcpatch"))
    assert np.array_equal(p.apply(es.vectors, es.modality), es.vectors)


def test_align_shards_takes_a_patch_file(tmp_path):
    import pandas as pd

    from modalchorus_widget import scale

    rng = np.random.default_rng(1)
    for k, n in enumerate([30, 20]):  # a clip-retrieval folder: image and text shards, metadata
        for kind in ("img_emb", "text_emb"):
            (tmp_path / "src" / kind).mkdir(parents=True, exist_ok=True)
            np.save(tmp_path / "src" / kind / f"{kind}_{k}.npy", rng.normal(size=(n, 16)).astype(np.float32))
        (tmp_path / "src" / "metadata").mkdir(exist_ok=True)
        pd.DataFrame(
            {"image_path": [f"im{k}_{i}.jpg" for i in range(n)], "caption": [f"c{k}{i}" for i in range(n)]}
        ).to_parquet(tmp_path / "src" / "metadata" / f"metadata_{k}.parquet")
    es = scale.load_embeddings(tmp_path / "src")
    al = Aligner(n_steps=20, validation=0.0, guard=None).fit(es)
    img = np.flatnonzero(es.modality == "image")
    al.step(PointSet(int(np.flatnonzero(es.modality == "text")[0]), img[:10]))
    al.set_strength(0.5)
    out = scale.align_shards(tmp_path / "src", al.export_patch(tmp_path / "fix.mcpatch"), engine="local").folder
    got = scale.load_embeddings(out)
    assert np.abs(got.vectors - al.embeddings_.vectors).max() < 1e-5  # each round at its strength (0.5)
    assert np.abs(got.vectors - es.vectors).max() > 1e-4
