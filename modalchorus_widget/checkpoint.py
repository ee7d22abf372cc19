"""Networks that ship inside the package: safetensors weights plus a JSON config beside them.

Why one module: the embedded encoders (``encoders/lit.py``), the world's decoder and its oracle
(``generation/``) are all read the same way: size-checked, safetensors only (no pickle), loaded once, frozen,
and with a clear error naming the training script when a file is missing, corrupt or from another network.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import CheckpointError, MissingFileError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MAX_BYTES = 32 * 2**20  # the shipped files are a few MB; anything larger is not ours
MAX_CONFIG_BYTES = 2**20


class ShippedNetwork:
    """A torch network whose weights ship with the package (or are given as ``weights=``, a path).

    Subclasses set ``weights_file`` (the shipped file), ``train_script`` (its file name under the repository's
    scripts folder) and ``what`` (how errors name the network), and define ``build(config)`` (the untrained
    torch module). ``network()`` returns it loaded, in eval mode, with every parameter frozen.
    """

    weights_file: Path
    train_script: str
    what: str

    def __init__(self, weights=None):
        self.weights = weights
        self._net = None
        self._config = None

    def build(self, config: dict):
        raise NotImplementedError

    @property
    def weights_path(self) -> Path:
        return Path(self.weights) if self.weights is not None else self.weights_file

    def _retrain(self) -> str:
        return f"re-run `python scripts/{self.train_script}` or reinstall modalchorus-widget"

    @property
    def config(self) -> dict:
        """The JSON config next to the weights (same name, .json)."""
        if self._config is None:
            cfg = self.weights_path.with_suffix(".json")
            if not cfg.is_file():
                raise MissingFileError(
                    f"{self.what}: config '{cfg}' is missing next to the weights; {self._retrain()}."
                )
            if cfg.stat().st_size > MAX_CONFIG_BYTES:
                raise CheckpointError(
                    f"{self.what}: config '{cfg}' is over 1 MiB, not a config of ours; {self._retrain()}."
                )
            try:
                self._config = json.loads(cfg.read_text())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CheckpointError(
                    f"{self.what}: config '{cfg}' is not valid JSON ({exc}); {self._retrain()}."
                ) from exc
        return self._config

    def network(self):
        """The network with its weights loaded (once), eval mode, frozen."""
        if self._net is None:
            from safetensors.torch import load_file

            path = self.weights_path
            if not path.is_file():
                raise MissingFileError(f"{self.what}: weights '{path}' not found; {self._retrain()}.")
            if path.stat().st_size > MAX_BYTES:
                raise CheckpointError(
                    f"{self.what}: weights '{path}' are over {MAX_BYTES >> 20} MiB, not ours; {self._retrain()}."
                )
            net = self.build(self.config)
            try:
                net.load_state_dict(load_file(str(path)))
            except Exception as exc:  # safetensors raises its own error type; torch a RuntimeError
                raise CheckpointError(
                    f"{self.what}: weights '{path}' cannot be read ({type(exc).__name__}: {exc}); the file is "
                    f"corrupt, truncated or from another network; {self._retrain()}."
                ) from exc
            net.eval()
            for p in net.parameters():
                p.requires_grad_(False)
            self._net = net
        return self._net
