"""Encode a source of raw items into clip-retrieval shards, on Ray Data or in this process.

``encode_to_shards(source, folder, encoder)`` cuts the source into shards (``Source.plan``), skips the
shards already marked complete in ``folder`` (a re-run after an interruption finishes the job: nothing is
done twice, nothing lost), and encodes the rest:

- ``engine="ray"``: one Ray Data dataset of shard tasks, ``map_batches`` with a callable class (an actor
  pool of ``concurrency`` encoders, each loading the model once; ``num_gpus=1`` per actor when the cluster
  has GPUs and the encoder is on CUDA). Each actor reads its shard's items, encodes them and writes the
  shard itself, so embeddings never pass through the driver or the object store: the driver's memory does
  not grow with the data. A killed actor is restarted by Ray and its shard is done again (the shard's files
  are renamed into place and marked complete only when whole, so no partial shard survives).
- ``engine="local"``: the same per-shard function in a loop here (no Ray): the same files, for small jobs.

``folder`` is a local path or an fsspec URL (``s3://bucket/emb``, ``gs://...``; see ``storage.py``): on a
cluster, every worker writes its shards straight to that shared storage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from ..encoders.base import check_encoder
from ..errors import DatasetError, EncoderError, InputError, ModalChorusError
from ..threads import worker_threads
from . import layout as L
from .sources import Source, open_source
from .storage import Store, open_store

__all__ = ["encode_to_shards", "EncodeReport", "encode_shard", "ENGINES"]

ENGINES = ("ray", "local")


@dataclass
class EncodeReport:
    """What one ``encode_to_shards`` call did: shards written now, shards kept from an earlier run.

    Parameters
    ----------
    folder : Path or str
        The shard folder (a local Path, or its URL).
    n_shards : int
        Shards the source plans.
    written, skipped : list of int
        Shards written by this call / kept from an earlier run.
    rows : int
        Items encoded by this call.
    seconds : float
    engine : str
        ``"ray"`` or ``"local"``.

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
    >>> rep.n_shards, rep.written, rep.rows, rep.engine
    (2, [0, 1], 40, 'local')
    """

    folder: object  # a local Path, or the folder's URL
    n_shards: int
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    rows: int = 0  # items encoded by this call
    seconds: float = 0.0
    engine: str = "local"


def _where(task: dict) -> str:
    return json.dumps(task)[:200]


def encode_shard(source: Source, task: dict, index: int, n_shards: int, encoder, folder, batch_size=None) -> int:
    """Read, encode and write shard ``index`` (every file atomically, then its marker). Returns its rows."""
    store = open_store(folder)
    sfx = L.shard_suffix(index, n_shards)
    items = source.read(task)
    if len(items) == 0:
        raise DatasetError(f"shard {sfx} ({_where(task)}) has no items.")
    kw = {} if batch_size is None else {"batch_size": int(batch_size)}
    out = {}
    try:
        if items.images is not None:
            out["image"] = encoder.encode_images(items.images, progress=False, **kw)
        if items.captions is not None:
            out["text"] = encoder.encode_texts(items.captions, progress=False, **kw)
    except ModalChorusError as exc:
        raise type(exc)(f"shard {sfx} ({_where(task)}): {exc}") from exc
    manifest = L.read_manifest(store) or {}
    for kind, vec in out.items():
        vec = np.asarray(vec, dtype=np.float32)
        if vec.ndim != 2 or len(vec) != len(items):
            raise EncoderError(f"shard {sfx}: the encoder returned shape {vec.shape} for {len(items)} {kind} items.")
        dim = manifest.get("dim")
        if dim is not None and vec.shape[1] != dim:
            raise EncoderError(
                f"shard {sfx}: the encoder gives {vec.shape[1]}-d vectors but {store} holds {dim}-d shards "
                f"(e.g. {L.shard_path(store, kind, 0, n_shards)}); use the same model, or another folder."
            )
        store.save_npy(L.shard_rel(kind, index, n_shards), vec)
    store.save_parquet(L.shard_rel("metadata", index, n_shards), items.meta)
    L.mark_done(store, index, n_shards, rows=len(items), kinds=sorted(out))
    return len(items)


class _EncodeWorker:
    """The Ray actor: one encoder per actor, loaded once, then one shard per call."""

    def __init__(self, source, encoder, folder, n_shards, batch_size, threads):
        if threads:
            worker_threads(int(threads))
        self.source, self.encoder, self.folder = source, encoder, folder
        self.n_shards, self.batch_size = n_shards, batch_size

    def __call__(self, batch):
        def one(k, task):
            return encode_shard(
                self.source, json.loads(str(task)), int(k), self.n_shards, self.encoder, self.folder, self.batch_size
            )

        return guarded(one, batch, ("shard", "task"))


def guarded(fn, batch, keys) -> dict:
    """Run ``fn(*row)`` per row of a Ray batch; a package error comes back as a result row (its class name
    and message), so the driver raises it as itself instead of as Ray's wrapped traceback."""
    out = {k: [] for k in (*keys, "rows", "error", "error_type")}
    for row in zip(*(batch[k] for k in keys)):
        try:
            rows, err, kind = fn(*row), "", ""
        except ModalChorusError as exc:
            rows, err, kind = -1, str(exc), type(exc).__name__
        for k, v in zip(keys, row):
            out[k].append(v)
        out["rows"].append(rows)
        out["error"].append(err)
        out["error_type"].append(kind)
    return {k: np.asarray(v) for k, v in out.items()}


def raise_worker_error(result: dict):
    if result.get("error_type"):
        from .. import errors

        cls = getattr(errors, str(result["error_type"]), None)
        cls = cls if isinstance(cls, type) and issubclass(cls, ModalChorusError) else errors.ModalChorusError
        raise cls(str(result["error"]))


def pool_args(concurrency, num_cpus, num_gpus) -> dict:
    """map_batches arguments for an actor pool of ``concurrency`` actors (Ray's ``compute=`` where it has it)."""
    import ray.data

    args = {"num_cpus": num_cpus, "num_gpus": num_gpus or 0}
    if hasattr(ray.data, "ActorPoolStrategy"):
        args["compute"] = ray.data.ActorPoolStrategy(size=int(concurrency))
    else:  # older Ray Data
        args["concurrency"] = int(concurrency)
    return args


def default_concurrency(num_cpus: float, num_gpus: float) -> int:
    import ray

    res = ray.cluster_resources()
    if num_gpus:
        return max(1, int(res.get("GPU", 0) // num_gpus))
    return max(1, int(res.get("CPU", 1) // max(num_cpus, 1e-9)))


def run_tasks_on_ray(worker_cls, kwargs, items, concurrency, num_cpus, num_gpus, on_result):
    """One Ray Data pass: ``items`` (dicts) through an actor pool of ``worker_cls``, results streamed."""
    import ray.data

    from .cluster import ensure_ray

    ensure_ray()
    if concurrency is None:
        concurrency = default_concurrency(num_cpus, num_gpus)
    concurrency = max(1, min(int(concurrency), len(items)))
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    out = ds.map_batches(
        worker_cls,
        fn_constructor_kwargs=kwargs,
        batch_size=1,
        batch_format="numpy",
        **pool_args(concurrency, num_cpus, num_gpus),
    )
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        for i in range(len(batch["shard"])):
            result = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in batch.items()}
            raise_worker_error(result)
            on_result(result)


def check_shared(store: Store) -> None:
    """Ray workers must see the folder: refuse one that lives in this process only (``memory://``)."""
    if not store.shared:
        raise InputError(
            f"{store}: this filesystem lives in this process only, so Ray workers cannot see it; use "
            "engine='local', or shared storage (s3://..., gs://..., a path every node mounts)."
        )


def _check_folder(folder: Store, src: Source, n_shards: int, shard_size: int, encoder) -> dict:
    try:
        dim = int(encoder.dim)
    except ModalChorusError:
        dim = None
    manifest = L.read_manifest(folder)
    want = {
        "n_shards": n_shards,
        "shard_size": int(shard_size),
        "modalities": list(src.modalities),
        "source": src.fingerprint(),
    }
    if manifest is None:
        if not folder.is_empty():
            raise DatasetError(
                f"{folder} is not empty and was not written by encode_to_shards (no {L.STATE_DIR}/{L.MANIFEST}); "
                "choose a new or empty folder so that no file is overwritten."
            )
        return L.write_manifest(folder, dim=dim, encoder=getattr(encoder, "name", type(encoder).__name__), **want)
    for k, v in want.items():
        if manifest.get(k) != v:
            raise DatasetError(
                f"{folder} holds shards of another job ({k}: {manifest.get(k)!r} there, {v!r} now); re-run with the "
                "same source and shard_size to finish it, or write to a new folder."
            )
    if dim is not None and manifest.get("dim") is not None and manifest["dim"] != dim:
        done = min(L.done_set(folder, n_shards), default=0)
        raise EncoderError(
            f"the encoder gives {dim}-d vectors but {folder} holds {manifest['dim']}-d shards "
            f"(e.g. {L.shard_path(folder, src.modalities[0], done, n_shards)}); use the same model, or another folder."
        )
    return manifest


def encode_to_shards(
    source,
    folder,
    encoder=None,
    *,
    shard_size: int = 10_000,
    engine: str = "ray",
    concurrency: int | None = None,
    num_cpus: float = 1,
    num_gpus: float | None = None,
    batch_size: int | None = None,
    on_shard=None,
) -> EncodeReport:
    """Encode ``source`` (a ``Source`` or a path, see ``sources.open_source``) into shards in ``folder``.

    Parameters
    ----------
    source : Source, str or Path
        A table, an image folder or webdataset tars (``open_source``).
    folder : str or Path
        The shard folder (local path or fsspec URL); shards already there are skipped.
    encoder : Encoder, optional
        Default: the embedded ``DefaultEncoder``.
    shard_size : int, default 10000
        Items per shard (tables and image folders; a webdataset source gives one shard per tar).
    engine : {"ray", "local"}, default "ray"
        Ray Data actor pool, or this process.
    concurrency, num_cpus, num_gpus : optional
        Ray: ``concurrency`` actors (default: the cluster's CPUs / ``num_cpus``, or GPUs / ``num_gpus``).
    batch_size : int, optional
        The encoder's batch size.
    on_shard : callable, optional
        ``on_shard(shard, rows)``, called here after each shard is written (an exception from it stops the
        job; finished shards stay and a re-run skips them).

    Returns
    -------
    EncodeReport

    Raises
    ------
    InputError
        An unknown ``engine`` or a bad ``shard_size``.
    DatasetError
        An empty source, or a folder holding shards of another source or model.

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
    >>> rep.n_shards, rep.rows
    (2, 40)
    """
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {ENGINES}; got {engine!r}.")
    if not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise InputError(f"shard_size must be a positive int; got {shard_size!r}.")
    if encoder is None:
        from ..encoders.default import DefaultEncoder

        encoder = DefaultEncoder()
    encoder = check_encoder(encoder)
    src = open_source(source)
    store = open_store(folder)
    if engine == "ray":
        check_shared(store)
    t0 = time.perf_counter()
    tasks = src.plan(int(shard_size))
    n_shards = len(tasks)
    if n_shards == 0:
        raise DatasetError(f"{source}: the source has no items.")
    store.makedirs()
    _check_folder(store, src, n_shards, shard_size, encoder)
    report = EncodeReport(store.path(), n_shards, engine=engine)
    report.skipped = sorted(L.done_set(store, n_shards))
    pending = [k for k in range(n_shards) if k not in set(report.skipped)]

    def done(shard: int, rows: int):
        report.written.append(int(shard))
        report.rows += int(rows)
        if on_shard is not None:
            on_shard(int(shard), int(rows))

    if pending and engine == "local":
        for k in pending:
            done(k, encode_shard(src, tasks[k], k, n_shards, encoder, store, batch_size))
    elif pending:
        if num_gpus is None:
            import ray

            from .cluster import ensure_ray

            ensure_ray()
            on_cuda = str(getattr(encoder, "device", "cpu")).startswith("cuda")
            num_gpus = 1 if on_cuda and ray.cluster_resources().get("GPU", 0) > 0 else 0
        kwargs = {
            "source": src,
            "encoder": encoder,
            "folder": store.resolved(),
            "n_shards": n_shards,
            "batch_size": batch_size,
            "threads": max(1, int(num_cpus)),
        }
        items = [{"shard": k, "task": json.dumps(tasks[k])} for k in pending]
        run_tasks_on_ray(
            _EncodeWorker, kwargs, items, concurrency, num_cpus, num_gpus, lambda r: done(r["shard"], r["rows"])
        )
    report.written.sort()
    report.seconds = time.perf_counter() - t0
    return report
