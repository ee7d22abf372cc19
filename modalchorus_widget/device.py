"""Where torch work runs: ``device="auto"`` is CUDA when torch sees a GPU, else the CPU (one rule for every
estimator: MFM, Aligner, CMCR and the probe)."""

from __future__ import annotations

from .errors import ParameterError

__all__ = ["DEVICES", "resolve_device", "device_ok"]

DEVICES = ("auto", "cpu", "cuda")


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def device_ok(device) -> bool:
    """True when ``device`` is a value ``resolve_device`` accepts ("auto", "cpu", "cuda" or "cuda:N")."""
    if not isinstance(device, str):
        return False
    return device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())


def resolve_device(device="auto", where: str = "device") -> str:
    """The torch device an estimator works on.

    Parameters
    ----------
    device : str, default "auto"
        ``"auto"``: ``"cuda"`` when torch sees a GPU, else ``"cpu"``. ``"cpu"``, ``"cuda"`` or ``"cuda:N"``:
        that device (CUDA must then be available).
    where : str
        Who asks, for the error message (e.g. ``"MFM(device=...)"``).

    Returns
    -------
    str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises
    ------
    ParameterError
        ``device`` is not one of those values, or names CUDA where torch sees no GPU.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("auto") in ("cpu", "cuda")
    True
    """
    if not device_ok(device):
        raise ParameterError(
            f"{where}: device must be 'auto' (CUDA when torch sees a GPU, else the CPU), 'cpu', 'cuda' or "
            f"'cuda:N', got {device!r}."
        )
    if device == "auto":
        return "cuda" if _cuda_available() else "cpu"
    if device.startswith("cuda") and not _cuda_available():
        raise ParameterError(
            f"{where}: device={device!r}, but torch sees no CUDA GPU here; pass device='auto' (the CPU when "
            "there is no GPU) or device='cpu'."
        )
    return device
