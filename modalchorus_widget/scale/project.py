"""Project and align every shard of a folder: fit once on a sample, then apply shard by shard in parallel.

- ``project_shards(folder)``: fit a projector (default MFM) on a stratified sample of the folder, save it
  as ``positions/projector.safetensors``, then place every shard with ``transform``, writing positions
  shards ``positions/img_pos_<i>.npy`` / ``text_pos_<i>.npy`` (float32 (rows, 2), row-aligned with the
  embedding shards). On Ray the fitted map is put in the object store once (``ray.put`` of its bytes) and
  each actor of the pool rebuilds it once, then places one shard per call.
- ``align_shards(folder, aligner)``: apply a saved ``Aligner``'s active rounds (their adapters, exactly as
  ``Aligner.transform``) to every shard, into a new versioned folder (``<folder>.aligned-1``, ``-2``, ...);
  the metadata shards are copied, the old folder stays as it was.

Both have ``engine="local"`` (the same per-shard code in this process) and skip shards already marked
done in their output, so an interrupted run can be finished by calling it again.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AlignmentError, InputError, ProjectionError
from . import layout as L
from .encode import ENGINES, guarded, run_tasks_on_ray
from .read import ShardedEmbeddings, open_shards

__all__ = ["project_shards", "align_shards", "ShardJobReport", "load_projector", "PROJECTOR_FILE"]

PROJECTOR_FILE = "projector.safetensors"


@dataclass
class ShardJobReport:
    folder: Path
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0
    fit_seconds: float = 0.0
    engine: str = "local"


def _projector_from_bytes(blob: bytes):
    from ..projection.mfm import MFM

    return MFM.from_bytes(blob, "projector")


def load_projector(folder):
    """The projector fitted by ``project_shards`` on ``folder`` (from ``positions/projector.safetensors``)."""
    from ..projection.mfm import MFM

    return MFM.load(Path(folder) / "positions" / PROJECTOR_FILE)


def _project_block(sh: ShardedEmbeddings, projector, kind: str, k: int) -> int:
    arr = sh.array(kind, k, cache=False)
    xy = np.empty((len(arr), 2), np.float32)
    for s in range(0, len(arr), 65536):
        xy[s : s + 65536] = projector.transform(np.asarray(arr[s : s + 65536], np.float32))
    L.atomic_save_npy(sh.layout.path(kind, k, positions=True), xy)
    L.mark_done(sh.folder, k, sh.n_shards, f"positions-{kind}", rows=len(arr))
    return len(arr)


class _ProjectWorker:
    def __init__(self, folder, blob_ref, threads):
        import ray
        import torch

        torch.set_num_threads(int(threads))
        self.sh = open_shards(folder)
        self.projector = _projector_from_bytes(ray.get(blob_ref[0]))  # shipped once per actor

    def __call__(self, batch):
        return guarded(
            lambda kind, k: _project_block(self.sh, self.projector, str(kind), int(k)), batch, ("kind", "shard")
        )


def _run(sh, out_folder, what, engine, local_fn, worker_cls, kwargs, concurrency, num_cpus) -> ShardJobReport:
    """Shards of every kind in ``sh``: skip the done ones, run the rest locally or on a Ray actor pool."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {ENGINES}; got {engine!r}.")
    rep = ShardJobReport(Path(out_folder), engine=engine)
    todo = []
    for kind, k, _, _ in sh.blocks:
        (rep.skipped if L.is_done(out_folder, k, sh.n_shards, f"{what}-{kind}") else todo).append((kind, k))
    t0 = time.perf_counter()

    def done(kind, k, rows):
        rep.written.append((kind, int(k)))
        rep.rows += int(rows)

    if engine == "local":
        for kind, k in todo:
            done(kind, k, local_fn(kind, k))
    elif todo:
        items = [{"kind": kind, "shard": k} for kind, k in todo]
        run_tasks_on_ray(
            worker_cls, kwargs, items, concurrency, num_cpus, 0, lambda r: done(str(r["kind"]), r["shard"], r["rows"])
        )
    rep.written.sort()
    rep.seconds = time.perf_counter() - t0
    return rep


def project_shards(
    folder,
    projector=None,
    *,
    sample: int = 20_000,
    seed: int = 0,
    engine: str = "ray",
    concurrency: int | None = None,
    num_cpus: float = 1,
) -> ShardJobReport:
    """Fit ``projector`` (default ``MFM()``; a fitted MFM is used as it is) on a stratified sample of
    ``sample`` rows of ``folder``, then write the positions shards of every row (see the module docstring)."""
    from ..projection.mfm import MFM

    sh = open_shards(folder)
    t0 = time.perf_counter()
    proj = MFM(verbose=False) if projector is None else projector
    if not isinstance(proj, MFM):
        raise ProjectionError(
            f"project_shards places shards with MFM (a parametric map saved to one file); got {type(proj).__name__}. "
            "Fit PCA / t-SNE / UMAP on load_embeddings(folder, max_points=...) instead."
        )
    path = sh.folder / "positions" / PROJECTOR_FILE
    if not proj.is_fitted():
        proj.fit(sh.to_set(sh.sample(sample, seed)))
    blob = proj.to_bytes()
    if path.is_file() and path.read_bytes() != blob:  # another map: earlier positions are stale
        shutil.rmtree(sh.folder / L.STATE_DIR / "positions-image", ignore_errors=True)
        shutil.rmtree(sh.folder / L.STATE_DIR / "positions-text", ignore_errors=True)
    from ..data.io import atomic_write_bytes

    atomic_write_bytes(path, blob)
    fit_s = time.perf_counter() - t0
    local = _projector_from_bytes(blob)
    kwargs = {"folder": str(sh.folder), "threads": max(1, int(num_cpus))}
    if engine == "ray":
        import ray

        from .cluster import ensure_ray

        ensure_ray()
        kwargs["blob_ref"] = [ray.put(blob)]  # in a list: the actor fetches it itself, once
    rep = _run(
        sh,
        sh.folder,
        "positions",
        engine,
        lambda kind, k: _project_block(sh, local, kind, k),
        _ProjectWorker,
        kwargs,
        concurrency,
        num_cpus,
    )
    rep.fit_seconds = fit_s
    return rep


# ---------------------------------------------------------------- alignment
def _adapter_blobs(aligner) -> list:
    from ..alignment.aligner import Aligner

    if not isinstance(aligner, Aligner):
        aligner = Aligner.load(aligner)
    if aligner.mode == "deep":
        raise AlignmentError(
            "a deep-mode aligner tuned the encoder itself: it has no vector-to-vector map to apply to shards. "
            "Encode the source again with aligner.encoder (encode_to_shards(source, new_folder, encoder))."
        )
    return [r.weights for r in aligner.history_ if not r.is_identity]


def _align_block(sh: ShardedEmbeddings, out: Path, adapters: list, kind: str, k: int) -> int:
    from ..alignment.adapter import apply_adapter

    arr = sh.array(kind, k, cache=False)
    res = np.empty(arr.shape, np.float32)
    for s in range(0, len(arr), 65536):
        v = np.asarray(arr[s : s + 65536], np.float32)
        v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)  # as Aligner.transform
        for a in adapters:
            v = apply_adapter(a, v, kind)
        res[s : s + len(v)] = v
    L.atomic_save_npy(out / L.KINDS[kind][0] / f"{L.KINDS[kind][1]}{sh.layout.suffixes[k]}.npy", res)
    L.mark_done(out, k, sh.n_shards, f"aligned-{kind}", rows=len(arr))
    return len(arr)


class _AlignWorker:
    def __init__(self, folder, out, blobs_ref, threads):
        import ray
        import torch

        from ..alignment.adapter import adapters_from_bytes

        torch.set_num_threads(int(threads))
        self.sh, self.out = open_shards(folder), Path(out)
        self.adapters = [adapters_from_bytes(b) for b in ray.get(blobs_ref[0])]

    def __call__(self, batch):
        return guarded(
            lambda kd, k: _align_block(self.sh, self.out, self.adapters, str(kd), int(k)), batch, ("kind", "shard")
        )


def next_version(folder) -> Path:
    folder = Path(folder)
    k = 1
    while (folder.parent / f"{folder.name}.aligned-{k}").exists():
        k += 1
    return folder.parent / f"{folder.name}.aligned-{k}"


def align_shards(
    folder, aligner, out=None, *, engine: str = "ray", concurrency: int | None = None, num_cpus: float = 1
) -> ShardJobReport:
    """Apply ``aligner`` (an ``Aligner`` or the path of one saved with ``Aligner.save``) to every shard of
    ``folder``, writing a new folder (default: the next free ``<folder>.aligned-<k>``); returns its report."""
    from ..alignment.adapter import adapters_from_bytes
    from ..data.io import atomic_write_bytes

    sh = open_shards(folder)
    blobs = _adapter_blobs(aligner)
    digest = hashlib.sha256(b"".join(blobs)).hexdigest()[:16]
    out = next_version(sh.folder) if out is None else Path(out)
    prev = L.read_manifest(out) if out.exists() else None
    if out.exists() and (prev is None or prev.get("aligned_with") != digest):
        raise InputError(
            f"{out} exists and is not an unfinished alignment of {sh.folder} with this aligner; pass a new out=."
        )
    src_manifest = dict(sh.layout.manifest or {})
    src_manifest.pop("format", None)
    src_manifest.pop("version", None)
    src_manifest.update(
        n_shards=sh.n_shards, aligned_from=str(sh.folder.resolve()), aligned_with=digest, rounds=len(blobs), dim=sh.dim
    )
    out.mkdir(parents=True, exist_ok=True)
    L.write_manifest(out, **src_manifest)
    for k in range(sh.n_shards):
        meta = sh.layout.path("metadata", k)
        if meta.is_file():
            atomic_write_bytes(out / L.META_DIR / meta.name, meta.read_bytes())
    kwargs = {"folder": str(sh.folder), "out": str(out), "threads": max(1, int(num_cpus))}
    if engine == "ray":
        import ray

        from .cluster import ensure_ray

        ensure_ray()
        kwargs["blobs_ref"] = [ray.put(blobs)]
    adapters = [adapters_from_bytes(b) for b in blobs] if engine == "local" else None
    rep = _run(
        sh,
        out,
        "aligned",
        engine,
        lambda kind, k: _align_block(sh, out, adapters, kind, k),
        _AlignWorker,
        kwargs,
        concurrency,
        num_cpus,
    )
    for k in range(sh.n_shards):  # whole shards (every kind aligned) count as complete shards of the new folder
        if all(L.is_done(out, k, sh.n_shards, f"aligned-{kind}") for kind in sh.kinds):
            L.mark_done(out, k, sh.n_shards, rows=int(sh.layout.rows[sh.kinds[0]][k]))
    return rep
