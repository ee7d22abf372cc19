"""Start Ray: a local one on this machine, or join a cluster.

``start()`` with no address starts a local Ray (dashboard off, a small object store: the scale pipeline
moves only shard tasks and results through it, never embeddings, so 1 GiB is plenty and the rest of the
machine's memory is left to the workers). ``start(address="ray://head:10001")`` or ``address="auto"``
joins a running cluster. Every scale function calls ``ensure_ray()``, which starts the local one only when
Ray is not running yet.

Examples
--------
>>> from modalchorus_widget.scale import cluster
>>> cluster.start(num_cpus=2)  # doctest: +SKIP
>>> cluster.stop()  # a no-op when this module started nothing
"""

from __future__ import annotations

__all__ = ["start", "stop", "ensure_ray", "DEFAULT_OBJECT_STORE_BYTES"]

DEFAULT_OBJECT_STORE_BYTES = 1 << 30
_STARTED = False


def _quiet_data():
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False


def start(address: str | None = None, num_cpus: int | None = None, object_store_bytes: int | None = None, **kwargs):
    """``ray.init`` for the scale pipeline; a running Ray is used as it is.

    Parameters
    ----------
    address : str, optional
        A cluster to join (``"auto"`` on a node of it, ``"ray://HEAD_IP:10001"`` from outside); default: a
        local Ray on this machine (dashboard off, small object store).
    num_cpus : int, optional
        CPUs of the local Ray.
    object_store_bytes : int, optional
        Size of the local Ray's object store.
    **kwargs
        Passed to ``ray.init``.

    Returns
    -------
    ray.runtime_context.RuntimeContext

    Examples
    --------
    >>> from modalchorus_widget import scale
    >>> scale.start()  # doctest: +SKIP
    >>> scale.stop()  # doctest: +SKIP
    """
    import ray

    global _STARTED
    if ray.is_initialized():
        _quiet_data()
        return ray.get_runtime_context()
    if address is not None:
        ctx = ray.init(address=address, **kwargs)
    else:
        kwargs.setdefault("include_dashboard", False)
        kwargs.setdefault("log_to_driver", False)
        ctx = ray.init(
            num_cpus=num_cpus,
            object_store_memory=int(object_store_bytes or DEFAULT_OBJECT_STORE_BYTES),
            **kwargs,
        )
    _STARTED = True
    _quiet_data()
    return ctx


def ensure_ray():
    """Ray running (a local one started by ``start()`` when it is not)."""
    import ray

    if not ray.is_initialized():
        start()
    else:
        _quiet_data()


def stop():
    """Shut down the Ray this module started (a Ray started elsewhere is left alone).

    Returns
    -------
    None

    Examples
    --------
    >>> from modalchorus_widget import scale
    >>> scale.stop()  # nothing started: nothing to do
    """
    import ray

    global _STARTED
    if _STARTED and ray.is_initialized():
        ray.shutdown()
    _STARTED = False
