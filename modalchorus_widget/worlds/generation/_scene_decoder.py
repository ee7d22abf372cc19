"""The decoder network (torch): image embedding -> scene code -> pixels. Imported only when a decoder loads."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .. import shapes as S

N_COLOUR, N_SHAPE, N_SIZE = len(S.COLOURS), len(S.SHAPES), len(S.SIZES)
N_CODE = N_COLOUR + N_SHAPE + N_SIZE + 2  # attribute probabilities, then the centre as a fraction of the side
FREQUENCIES = (1.0, 2.0, 4.0, 8.0)  # Fourier features of the pixel offsets, in cycles per 4 object radii


def split_code(o):
    """A code or head output (n, N_CODE) -> (colour, shape, size, centre) slices: the one place the layout lives."""
    a, b, c = N_COLOUR, N_COLOUR + N_SHAPE, N_COLOUR + N_SHAPE + N_SIZE
    return o[:, :a], o[:, a:b], o[:, b:c], o[:, c:]


def exact_codes(colour, shape, size, centre):
    """The code of rendered scenes from their labels (index tensors; centre (n, 2) as a fraction of the side)."""
    import torch.nn.functional as F

    parts = [F.one_hot(colour, N_COLOUR), F.one_hot(shape, N_SHAPE), F.one_hot(size, N_SIZE)]
    return torch.cat([*parts, centre], 1).float()


class SceneDecoderNet(nn.Module):
    """``head``: unit embedding -> code (colour, shape, size probabilities; centre). ``pixels``: a per-pixel
    MLP of (offset from the centre, its Fourier features, the code's probabilities) -> RGB in about 0..1.

    Why two stages: a pixel-MSE decoder straight from the embedding blurs what it is unsure of, and at
    this size it drew every shape as a blob; the embedding itself reads shape at 0.99 with a linear probe.
    The head learns what to draw, the pixel MLP (Fourier features against its bias to smooth functions)
    learns how to draw it. Uncertain codes draw a blend of the likely scenes, as a weak decoder would."""

    def __init__(self, dim: int = 384, hidden: int = 256, width: int = 128):
        super().__init__()
        self.head = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, N_CODE),
        )
        n_in = 2 + 4 * len(FREQUENCIES) + N_CODE - 2
        self.pixels = nn.Sequential(
            nn.Linear(n_in, width),
            nn.GELU(),
            nn.Linear(width, width),
            nn.GELU(),
            nn.Linear(width, width),
            nn.GELU(),
            nn.Linear(width, 3),
        )
        side = S.IMAGE_SIZE
        g = torch.arange(side, dtype=torch.float32) + 0.5
        ys, xs = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys], -1).reshape(1, side * side, 2), persistent=False)
        self.register_buffer("freq", torch.tensor(FREQUENCIES) * (math.pi / 2), persistent=False)

    def code(self, x):
        """Unit embeddings -> codes: softmax per attribute, the centre as is."""
        colour, shape, size, centre = split_code(self.head(x))
        return torch.cat([colour.softmax(1), shape.softmax(1), size.softmax(1), centre], 1)

    def render(self, code):
        """Codes (n, N_CODE) -> (n, 3, side, side)."""
        side = S.IMAGE_SIZE
        rel = (self.grid - code[:, None, -2:] * side) / (2 * S.RADIUS["small"])
        four = (rel[..., None] * self.freq).flatten(-2)
        h = torch.cat([rel, torch.sin(four), torch.cos(four), code[:, None, :-2].expand(-1, side * side, -1)], -1)
        return self.pixels(h).reshape(len(code), side, side, 3).permute(0, 3, 1, 2)

    def forward(self, x):
        return self.render(self.code(x))
