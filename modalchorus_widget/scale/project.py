"""Project and align every shard of a folder: fit once on a sample, then apply shard by shard in parallel.

- ``project_shards(folder)``: fit a projector (default MFM) on a stratified sample of the folder, save it
  as ``positions/projector.safetensors``, then place every shard with ``transform``, writing positions
  shards ``positions/img_pos_<i>.npy`` / ``text_pos_<i>.npy`` (float32 (rows, 2), row-aligned with the
  embedding shards). On Ray the fit runs in a Ray task (the driver never holds the sample, torch or the
  training state: only the fitted map's bytes come back), the map is put in the object store once
  (``ray.put`` of its bytes) and each actor of the pool rebuilds it once, then places one shard per call.
- ``align_shards(folder, aligner)``: apply a saved ``Aligner``'s active rounds (their adapters, exactly as
  ``Aligner.transform``) to every shard, into a new versioned folder (``<folder>.aligned-1``, ``-2``, ...);
  the metadata shards are copied, the old folder stays as it was.

Both have ``engine="local"`` (the same per-shard code in this process) and skip shards already marked
done in their output, so an interrupted run can be finished by calling it again. Folders are local paths
or fsspec URLs (``storage.py``).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import AlignmentError, InputError, MissingFileError, ProjectionError
from ..threads import worker_threads
from . import layout as L
from .encode import ENGINES, check_shared, guarded, run_tasks_on_ray
from .read import ShardedEmbeddings, open_shards
from .storage import Store, open_store

__all__ = ["project_shards", "align_shards", "ShardJobReport", "load_projector", "PROJECTOR_FILE"]

PROJECTOR_FILE = "projector.safetensors"
PROJECTOR_REL = f"positions/{PROJECTOR_FILE}"


@dataclass
class ShardJobReport:
    folder: object  # a local Path, or the folder's URL
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
    """The projector fitted by ``project_shards`` on ``folder`` (from ``positions/projector.safetensors``).

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    MFM
        Fitted.

    Raises
    ------
    MissingFileError
        ``project_shards`` has not run on ``folder``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from PIL import Image
    >>> from modalchorus_widget import scale
    >>> from modalchorus_widget.encoders import FunctionEncoder
    >>> for i in range(40):
    ...     Image.new("RGB", (4, 4), (i, 0, 0)).save(f"{i}.png")
    >>> pd.DataFrame({"image_path": [f"{i}.png" for i in range(40)], "caption": [f"a photo {i}" for i in range(40)]}).to_csv("items.csv")
    >>> f = lambda xs: np.random.default_rng(len(xs)).normal(size=(len(xs), 8))  # a stand-in encoder
    >>> rep = scale.encode_to_shards("items.csv", "emb", FunctionEncoder(images=f, texts=f, dim=8), shard_size=20, engine="local")
    >>> from modalchorus_widget import MFM
    >>> mfm = MFM(n_layout_iter=20, n_distill_steps=20, n_steps=0, n_rank_steps=0)
    >>> job = scale.project_shards("emb", mfm, engine="local")
    >>> scale.load_projector("emb").transform(np.ones((1, 8))).shape
    (1, 2)
    """
    from ..projection.mfm import MFM

    store = open_store(folder)
    if not store.isfile(PROJECTOR_REL):
        raise MissingFileError(f"{store.path(PROJECTOR_REL)}: no fitted map; run scale.project_shards({str(store)!r}).")
    return MFM.from_bytes(store.read_bytes(PROJECTOR_REL), str(store.path(PROJECTOR_REL)))


def _project_block(sh: ShardedEmbeddings, projector, kind: str, k: int) -> int:
    arr = sh.array(kind, k, cache=False)
    xy = np.empty((len(arr), 2), np.float32)
    for s in range(0, len(arr), 65536):
        xy[s : s + 65536] = projector.transform(np.asarray(arr[s : s + 65536], np.float32))
    del arr
    sh.store.save_npy(sh.layout.rel(kind, k, positions=True), xy)
    L.mark_done(sh.store, k, sh.n_shards, f"positions-{kind}", rows=len(xy))
    return len(xy)


def fit_on_sample(folder, projector, sample: int, seed: int) -> bytes:
    """Fit ``projector`` on a stratified sample of ``sample`` rows of ``folder``; the fitted map's bytes."""
    sh = folder if isinstance(folder, ShardedEmbeddings) else open_shards(folder)
    return projector.fit(sh.to_set(sh.sample(sample, seed))).to_bytes()


def _fit_task(folder, projector, sample: int, seed: int, threads: int) -> bytes:
    worker_threads(int(threads))  # Ray sets OMP_NUM_THREADS to the task's CPUs; torch follows it
    return fit_on_sample(folder, projector, sample, seed)


def _fit_on_ray(store: Store, projector, sample: int, seed: int, cpus: float | None) -> bytes:
    """``fit_on_sample`` in a Ray task (default: as many CPUs as the largest node has), so the sample, torch
    and the fit's training state stay in a worker; only the fitted map's bytes come back."""
    import ray

    if cpus is None:
        cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=1) or 1
    task = ray.remote(num_cpus=cpus, max_retries=1)(_fit_task)
    return ray.get(task.remote(store.resolved(), projector, int(sample), int(seed), max(1, int(cpus))))


class _ProjectWorker:
    def __init__(self, folder, blob_ref, threads):
        import ray

        worker_threads(int(threads))
        self.sh = open_shards(folder)
        self.projector = _projector_from_bytes(ray.get(blob_ref[0]))  # shipped once per actor

    def __call__(self, batch):
        return guarded(
            lambda kind, k: _project_block(self.sh, self.projector, str(kind), int(k)), batch, ("kind", "shard")
        )


def _run(sh, out_folder, what, engine, local_fn, worker_cls, kwargs, concurrency, num_cpus) -> ShardJobReport:
    """Shards of every kind in ``sh``: skip the done ones, run the rest locally or on a Ray actor pool."""
    out = open_store(out_folder)
    rep = ShardJobReport(out.path(), engine=engine)
    done_by_kind = {kind: L.done_set(out, sh.n_shards, f"{what}-{kind}") for kind in sh.kinds}
    todo = []
    for kind, k, _, _ in sh.blocks:
        (rep.skipped if k in done_by_kind[kind] else todo).append((kind, k))
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
    fit_cpus: float | None = None,
) -> ShardJobReport:
    """Fit ``projector`` (default ``MFM()``; a fitted MFM is used as it is) on a stratified sample of
    ``sample`` rows of ``folder``, then write the positions shards of every row (see the module docstring).
    On Ray the fit runs in a Ray task of ``fit_cpus`` CPUs (default: the largest node's); ``projector``
    itself is then left unfitted (``load_projector(folder)`` reads the fitted map).

    Parameters
    ----------
    folder : str or Path
    projector : MFM, optional
    sample, seed : int, default 20000, 0
        The stratified fitting sample.
    engine : {"ray", "local"}, default "ray"
    concurrency, num_cpus : optional
        Actors of the placing pool and CPUs per actor.
    fit_cpus : float, optional

    Returns
    -------
    ShardJobReport
        Shards written and skipped, rows, ``seconds`` and ``fit_seconds``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from PIL import Image
    >>> from modalchorus_widget import scale
    >>> from modalchorus_widget.encoders import FunctionEncoder
    >>> for i in range(40):
    ...     Image.new("RGB", (4, 4), (i, 0, 0)).save(f"{i}.png")
    >>> pd.DataFrame({"image_path": [f"{i}.png" for i in range(40)], "caption": [f"a photo {i}" for i in range(40)]}).to_csv("items.csv")
    >>> f = lambda xs: np.random.default_rng(len(xs)).normal(size=(len(xs), 8))  # a stand-in encoder
    >>> rep = scale.encode_to_shards("items.csv", "emb", FunctionEncoder(images=f, texts=f, dim=8), shard_size=20, engine="local")
    >>> from modalchorus_widget import MFM
    >>> mfm = MFM(n_layout_iter=20, n_distill_steps=20, n_steps=0, n_rank_steps=0)
    >>> job = scale.project_shards("emb", mfm, engine="local")
    >>> job.rows, scale.open_shards("emb").take([0, 1], positions=True).shape
    (80, (2, 2))
    """
    from ..projection.mfm import MFM

    if engine not in ENGINES:
        raise InputError(f"engine must be one of {ENGINES}; got {engine!r}.")
    sh = open_shards(folder)
    t0 = time.perf_counter()
    proj = MFM(verbose=False) if projector is None else projector
    if not isinstance(proj, MFM):
        raise ProjectionError(
            f"project_shards places shards with MFM (a parametric map saved to one file); got {type(proj).__name__}. "
            "Fit PCA / t-SNE / UMAP on load_embeddings(folder, max_points=...) instead."
        )
    if engine == "ray":
        from .cluster import ensure_ray

        check_shared(sh.store)
        ensure_ray()
    if proj.is_fitted():
        blob = proj.to_bytes()
    elif engine == "ray":
        blob = _fit_on_ray(sh.store, proj, sample, seed, fit_cpus)
    else:
        blob = fit_on_sample(sh, proj, sample, seed)
    store = sh.store
    if store.isfile(PROJECTOR_REL) and store.read_bytes(PROJECTOR_REL) != blob:  # another map: positions are stale
        store.remove(f"{L.STATE_DIR}/positions-image")
        store.remove(f"{L.STATE_DIR}/positions-text")
    store.write_bytes(PROJECTOR_REL, blob)
    fit_s = time.perf_counter() - t0
    kwargs = {"folder": store.resolved(), "threads": max(1, int(num_cpus))}
    if engine == "ray":
        import ray

        kwargs["blob_ref"] = [ray.put(blob)]  # in a list: the actor fetches it itself, once
    local = []

    def place_here(kind, k):
        if not local:
            local.append(_projector_from_bytes(blob))
        return _project_block(sh, local[0], kind, k)

    rep = _run(
        sh,
        store,
        "positions",
        engine,
        place_here,
        _ProjectWorker,
        kwargs,
        concurrency,
        num_cpus,
    )
    rep.fit_seconds = fit_s
    return rep


# ---------------------------------------------------------------- alignment
def _patch_bytes(aligner) -> bytes:
    """The rounds to apply, as patch bytes (``alignment/patch.py``: each round at its strength alpha, numpy only):
    from an Aligner, a Patch, or the path of an Aligner file (``Aligner.save``) or a patch file
    (``aligner.export_patch``), read as untrusted files."""
    from ..alignment.aligner import Aligner
    from ..alignment.patch import Patch, build_patch

    if isinstance(aligner, (str, os.PathLike)):
        if not os.path.isfile(aligner):
            raise MissingFileError(
                f"no aligner or patch file at {aligner}; write one with Aligner.save or export_patch."
            )
        with open(aligner, "rb") as f:
            zipped = f.read(2) == b"PK"
        aligner = Aligner.load(aligner) if zipped else Patch.load(aligner)
    if isinstance(aligner, Aligner):
        if aligner.mode == "fast":
            aligner = build_patch("fast", aligner.history_, aligner._states[0], aligner.embeddings_)
        else:
            aligner = Patch({}, {"mode": aligner.mode, "rounds": [], "provenance": {}})
    if not isinstance(aligner, Patch):
        raise InputError(
            f"aligner must be an Aligner, a Patch, or the path of either's file; got {type(aligner).__name__}."
        )
    if aligner.mode != "fast":
        raise AlignmentError(
            f"a {aligner.mode}-mode round has no vector-to-vector map to apply to shards: deep mode tuned the "
            "encoder (encode the source again with aligner.encoder: encode_to_shards(source, new_folder, encoder)), "
            "anchor mode tuned only the anchor rows of its own set (use patch.classifier(class_names))."
        )
    return aligner.to_bytes()


def _align_block(sh: ShardedEmbeddings, out: Store, patch, kind: str, k: int) -> int:
    arr = sh.array(kind, k, cache=False)
    res = np.empty(arr.shape, np.float32)
    for s in range(0, len(arr), 65536):
        v = np.asarray(arr[s : s + 65536], np.float32)
        v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)  # as Aligner.transform
        res[s : s + len(v)] = patch.apply(v, kind)
    del arr
    out.save_npy(sh.layout.rel(kind, k), res)
    L.mark_done(out, k, sh.n_shards, f"aligned-{kind}", rows=len(res))
    return len(res)


class _AlignWorker:
    def __init__(self, folder, out, blobs_ref, threads):
        import ray

        from ..alignment.patch import Patch

        worker_threads(int(threads))
        self.sh, self.out = open_shards(folder), open_store(out)
        self.adapters = Patch.from_bytes(ray.get(blobs_ref[0]), "the patch sent to this worker")

    def __call__(self, batch):
        return guarded(
            lambda kd, k: _align_block(self.sh, self.out, self.adapters, str(kd), int(k)), batch, ("kind", "shard")
        )


def next_version(folder) -> Store:
    """The first free ``<folder>.aligned-<k>`` beside ``folder`` (a store of the same filesystem)."""
    store = open_store(folder)
    k = 1
    while store.sibling(f"{store.name}.aligned-{k}").exists():
        k += 1
    return store.sibling(f"{store.name}.aligned-{k}")


def align_shards(
    folder, aligner, out=None, *, engine: str = "ray", concurrency: int | None = None, num_cpus: float = 1
) -> ShardJobReport:
    """Apply ``aligner`` (an ``Aligner``, a ``Patch``, or the path of an Aligner file or a patch file from
    ``aligner.export_patch``) to every shard of ``folder``, each round at its strength alpha, writing a new folder
    (default: the next free ``<folder>.aligned-<k>``); returns its report.

    Parameters
    ----------
    folder : str or Path
    aligner : Aligner, Patch, str or Path
    out : str or Path, optional
    engine : {"ray", "local"}, default "ray"
    concurrency, num_cpus : optional
        Ray actors and CPUs per actor.

    Returns
    -------
    ShardJobReport

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from PIL import Image
    >>> from modalchorus_widget import scale
    >>> from modalchorus_widget.encoders import FunctionEncoder
    >>> for i in range(40):
    ...     Image.new("RGB", (4, 4), (i, 0, 0)).save(f"{i}.png")
    >>> pd.DataFrame({"image_path": [f"{i}.png" for i in range(40)], "caption": [f"a photo {i}" for i in range(40)]}).to_csv("items.csv")
    >>> f = lambda xs: np.random.default_rng(len(xs)).normal(size=(len(xs), 8))  # a stand-in encoder
    >>> rep = scale.encode_to_shards("items.csv", "emb", FunctionEncoder(images=f, texts=f, dim=8), shard_size=20, engine="local")
    >>> from modalchorus_widget import Aligner, PointSet
    >>> es = scale.load_embeddings("emb")
    >>> al = Aligner(n_steps=5).fit(es)
    >>> _ = al.step(PointSet(40, [0, 1, 2]))
    >>> job = scale.align_shards("emb", al, engine="local")
    >>> job.folder.name, job.rows
    ('emb.aligned-1', 80)
    """
    from ..alignment.patch import Patch

    if engine not in ENGINES:
        raise InputError(f"engine must be one of {ENGINES}; got {engine!r}.")
    sh = open_shards(folder)
    blob = _patch_bytes(aligner)
    patch = Patch.from_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest()[:16]
    out = next_version(sh.store) if out is None else open_store(out)
    prev = L.read_manifest(out) if out.exists() else None
    if out.exists() and (prev is None or prev.get("aligned_with") != digest):
        raise InputError(
            f"{out} exists and is not an unfinished alignment of {sh.folder} with this aligner; pass a new out=."
        )
    if engine == "ray":
        check_shared(sh.store)
        check_shared(out)
    src_manifest = dict(sh.layout.manifest or {})
    src_manifest.pop("format", None)
    src_manifest.pop("version", None)
    src_manifest.update(
        n_shards=sh.n_shards,
        aligned_from=sh.store.resolved(),
        aligned_with=digest,
        rounds=len(patch.rounds),
        dim=sh.dim,
    )
    out.makedirs()
    L.write_manifest(out, **src_manifest)
    for k in range(sh.n_shards):
        meta = sh.layout.rel("metadata", k)
        if sh.store.isfile(meta):
            out.write_bytes(meta, sh.store.read_bytes(meta))
    kwargs = {"folder": sh.store.resolved(), "out": out.resolved(), "threads": max(1, int(num_cpus))}
    if engine == "ray":
        import ray

        from .cluster import ensure_ray

        ensure_ray()
        kwargs["blobs_ref"] = [ray.put(blob)]
    adapters = patch if engine == "local" else None
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
    done = [L.done_set(out, sh.n_shards, f"aligned-{kind}") for kind in sh.kinds]
    for k in range(sh.n_shards):  # whole shards (every kind aligned) count as complete shards of the new folder
        if all(k in d for d in done):
            L.mark_done(out, k, sh.n_shards, rows=int(sh.layout.rows[sh.kinds[0]][k]))
    return rep
