"""Loading the generation subpackage's shipped networks: safetensors weights plus a JSON config beside them.

Why one helper: the decoder and the oracle are read the same way (size-checked, no pickle, a clear error
naming the training script when a file is missing or from another network).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CheckpointError, MissingFileError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MAX_BYTES = 32 * 2**20  # the shipped files are a few MB; anything larger is not ours
RETRAIN = "re-run `python scripts/train_generator.py` or reinstall modalchorus-widget"


def read_config(weights: Path, what: str) -> dict:
    """The JSON config next to ``weights`` (same name, .json)."""
    cfg = Path(weights).with_suffix(".json")
    if not cfg.is_file():
        raise MissingFileError(f"{what}: config '{cfg}' is missing next to the weights; {RETRAIN}.")
    if cfg.stat().st_size > 2**20:
        raise CheckpointError(f"{what}: config '{cfg}' is over 1 MiB, not a config of ours; {RETRAIN}.")
    try:
        return json.loads(cfg.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{what}: config '{cfg}' is not valid JSON ({exc}); {RETRAIN}.") from exc


def load_network(net, weights: Path, what: str):
    """Load the safetensors file ``weights`` into torch module ``net``; eval mode, frozen."""
    from safetensors.torch import load_file

    path = Path(weights)
    if not path.is_file():
        raise MissingFileError(f"{what}: weights '{path}' not found; {RETRAIN}.")
    if path.stat().st_size > MAX_BYTES:
        raise CheckpointError(f"{what}: weights '{path}' are over {MAX_BYTES >> 20} MiB, not ours; {RETRAIN}.")
    try:
        net.load_state_dict(load_file(str(path)))
    except Exception as exc:  # safetensors raises its own error type; torch a RuntimeError
        raise CheckpointError(
            f"{what}: weights '{path}' cannot be read ({type(exc).__name__}: {exc}); the file is corrupt or "
            f"from another network; {RETRAIN}."
        ) from exc
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
