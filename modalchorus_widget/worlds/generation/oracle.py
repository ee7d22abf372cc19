"""The ground-truth reader of generated scenes: colour, shape and position of a single object.

Why: a generated image has no labels; to say whether "a red square" came out as a red circle, something
must read it. The renderer knows every attribute of its own scenes, so a small CNN trained on rendered
scenes (all 16 colour/shape classes, uniform) and on the decoder's reconstructions of them (generated
style) reads generations. Its held-out accuracy is in its JSON config (``held_out``), measured by
``scripts/train_generator.py`` with ``oracle_report``.
"""

from __future__ import annotations

import numpy as np

from ...checkpoint import WEIGHTS_DIR, ShippedNetwork
from ...errors import InputError
from .. import shapes as S

ORACLE_FILE = WEIGHTS_DIR / "oracle_shapes.safetensors"
N_OUT = len(S.COLOURS) + len(S.SHAPES) + 2  # colour logits, shape logits, (x, y) / IMAGE_SIZE


def build_oracle(width: int = 32):
    """(3, 32, 32) in 0..1 -> colour logits (4), shape logits (4), centre (2) as a fraction of the side."""
    import torch.nn as nn

    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 16
        nn.Conv2d(w, 2 * w, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 8
        nn.Conv2d(2 * w, 2 * w, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),  # 4
        nn.Flatten(),
        nn.Linear(2 * w * 16, 128),
        nn.GELU(),
        nn.Linear(128, N_OUT),
    )


def check_images(images, where: str) -> np.ndarray:
    """uint8 (n, 32, 32, 3) scenes, or a clear error."""
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1:] != (S.IMAGE_SIZE, S.IMAGE_SIZE, 3):
        raise InputError(
            f"{where}: expected uint8 images of shape (n, {S.IMAGE_SIZE}, {S.IMAGE_SIZE}, 3), got "
            f"{a.dtype} {a.shape}; generate them with a Generator or render them with shapes.render_all."
        )
    return a


class ShapesOracle(ShippedNetwork):
    """The shipped attribute reader. ``read(images)`` -> dict of arrays: ``colour``, ``shape`` (indices into
    shapes.COLOURS / SHAPES), ``combo`` (index into shapes.COMBOS), ``x``, ``y`` (pixels).

    Parameters
    ----------
    weights : str or Path, optional
        The safetensors file (default: the shipped one; its JSON config sits beside it).

    Examples
    --------
    >>> from modalchorus_widget.worlds.generation import ShapesOracle
    >>> from modalchorus_widget.worlds.shapes import COLOURS, SHAPES, render_all, sample_scenes
    >>> scenes = sample_scenes(2, "single", "test", 0)
    >>> [(o.colour, o.shape) for s in scenes for o in s.objects]
    [('blue', 'circle'), ('red', 'cross')]
    >>> out = ShapesOracle().read(render_all(scenes))
    >>> [(COLOURS[c], SHAPES[s]) for c, s in zip(out["colour"], out["shape"])]
    [('blue', 'circle'), ('red', 'cross')]
    """

    weights_file = ORACLE_FILE
    train_script = "train_generator.py"  # in the repository's scripts folder
    what = "shapes oracle"

    def build(self, config):
        return build_oracle(int(config["width"]))

    def read(self, images, batch_size: int = 1024) -> dict:
        import torch

        a = check_images(images, "ShapesOracle.read")
        net = self.network()
        out = np.empty((len(a), N_OUT), np.float32)
        with torch.inference_mode():
            for s in range(0, len(a), batch_size):
                x = torch.from_numpy(np.ascontiguousarray(a[s : s + batch_size].transpose(0, 3, 1, 2)) / 255.0)
                out[s : s + batch_size] = net(x.float()).numpy()
        nc = len(S.COLOURS)
        colour = out[:, :nc].argmax(1)
        shape = out[:, nc : nc + len(S.SHAPES)].argmax(1)
        return {
            "colour": colour,
            "shape": shape,
            "combo": colour * len(S.SHAPES) + shape,  # COMBOS is colour-major
            "x": out[:, -2] * S.IMAGE_SIZE,
            "y": out[:, -1] * S.IMAGE_SIZE,
        }

    def __repr__(self):
        return f"ShapesOracle(weights={self.weights!r})"


def oracle_report(oracle, images, labels) -> dict:
    """Accuracy of ``oracle`` on ``images`` against exact ``labels`` (``shapes.labels`` of their scenes)."""
    r = oracle.read(images)
    col, shp = r["colour"] == labels["colour1"], r["shape"] == labels["shape1"]
    err = np.hypot(r["x"] - labels["x1"], r["y"] - labels["y1"])
    return {
        "acc": round(float(np.mean(col & shp)), 4),
        "colour_acc": round(float(np.mean(col)), 4),
        "shape_acc": round(float(np.mean(shp)), 4),
        "position_mae_px": round(float(np.mean(err)), 3),
        "n": int(len(images)),
    }
