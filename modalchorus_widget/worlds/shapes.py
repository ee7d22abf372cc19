"""A procedural scene world with ground truth: small RGB scenes of one or two shapes, and their captions.

Why: the embedded digits model is almost always right, so there is nothing to fix. This world is made to
fail the way CLIP fails, and to say exactly where: the renderer knows every attribute of every scene.

* **Scenes**: 32x32 RGB, dark background with a little noise; one object, or two side by side. An object
  has a shape (circle, square, triangle, cross), a colour (red, green, blue, yellow), a size (small,
  large) and a position.
* **Captions** from templates with paraphrases: "a small red circle", "a photo of a red circle", "a red
  circle to the left of a blue square", "a blue square, and a red circle on its left", ...
* **Biases on purpose** (the training distribution, ``split="train"``): most red objects are circles
  (``RED_CIRCLE_SHARE``); green triangles and yellow squares never occur (``UNSEEN_COMBOS``); a fixed
  quarter of the pairs of objects never occur together (``heldout_pairs``).
* **Held-out split** (``split="test"``): single objects uniform over all 16 colour/shape combinations
  (the unseen ones included); two-object scenes made only of pairs that never occur in training.

Deterministic: the same (n, kind, split, seed) always gives the same scenes, bit for bit, on any machine
(numpy's PCG64 and float32 arithmetic only). Any number of samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DatasetError

IMAGE_SIZE = 32
COLOURS = ("red", "green", "blue", "yellow")
RGB = {"red": (225, 45, 40), "green": (40, 185, 60), "blue": (55, 95, 235), "yellow": (235, 215, 45)}
SHAPES = ("circle", "square", "triangle", "cross")
SIZES = ("small", "large")
RADIUS = {"small": 4.0, "large": 6.5}
COMBOS = tuple((c, s) for c in COLOURS for s in SHAPES)  # the 16 colour/shape classes, colour-major
UNSEEN_COMBOS = (("green", "triangle"), ("yellow", "square"))  # never in the training split
RED_CIRCLE_SHARE = 0.97  # in training, this share of red objects are circles (the rest split evenly)
HELDOUT_PAIR_FRACTION = 0.25
KINDS = ("single", "pair", "mixed")
SPLITS = ("train", "test")
_SPLIT_ID = {"train": 1, "test": 2}
_KIND_ID = {"single": 1, "pair": 2, "mixed": 3}

SINGLE_TEMPLATES = (
    "a {size} {colour} {shape}",
    "a {colour} {shape}",
    "a photo of a {colour} {shape}",
    "a {colour} {shape} on a dark background",
    "a {shape} that is {colour}",
    "one {size} {colour} {shape}",
)
# {l} = the left object ("red circle"), {r} = the right one.
PAIR_TEMPLATES = (
    "a {l} to the left of a {r}",
    "a {r} to the right of a {l}",
    "a {l} on the left and a {r} on the right",
    "a {r}, and a {l} on its left",
)
# Order-free captions of two-object scenes ({a}, {b}: the objects in either order), as web captions mostly
# are: in training a pair's caption states the relation only RELATION_SHARE of the time.
UNORDERED_TEMPLATES = (
    "a {a} and a {b}",
    "a {a} next to a {b}",
    "two shapes, a {a} and a {b}",
)
RELATION_SHARE = 0.15
PROMPT_TEMPLATE = "a photo of a {colour} {shape}"  # zero-shot class prompt


@dataclass(frozen=True)
class Obj:
    """One object of a scene: attributes and centre (pixels, x to the right, y down)."""

    colour: str
    shape: str
    size: str
    x: float
    y: float

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def combo(self) -> int:
        return COMBOS.index((self.colour, self.shape))


@dataclass(frozen=True)
class Scene:
    """One scene: its objects (left to right) and the seed of its background noise."""

    objects: tuple
    noise_seed: int

    @property
    def kind(self) -> str:
        return "single" if len(self.objects) == 1 else "pair"

    def caption(self, template: int = 0) -> str:
        """The caption of this scene from template ``template`` (SINGLE_TEMPLATES or PAIR_TEMPLATES)."""
        if len(self.objects) == 1:
            o = self.objects[0]
            return SINGLE_TEMPLATES[template].format(size=o.size, colour=o.colour, shape=o.shape)
        left, right = self.objects
        return PAIR_TEMPLATES[template].format(l=left.name, r=right.name)

    def caption_choices(self) -> tuple:
        """(captions, probabilities): every caption this scene gets in training. One object: each single
        template alike. Two: a relation template with total probability RELATION_SHARE, else an order-free
        one with the objects in either order."""
        if len(self.objects) == 1:
            caps = [self.caption(t) for t in range(len(SINGLE_TEMPLATES))]
            return caps, [1.0 / len(caps)] * len(caps)
        left, right = self.objects
        rel = [self.caption(t) for t in range(len(PAIR_TEMPLATES))]
        free = [t.format(a=x.name, b=y.name) for t in UNORDERED_TEMPLATES for x, y in ((left, right), (right, left))]
        return rel + free, [RELATION_SHARE / len(rel)] * len(rel) + [(1 - RELATION_SHARE) / len(free)] * len(free)

    def key(self) -> tuple:
        """What a caption can tell apart: the combo of each object, left to right."""
        return tuple(o.combo for o in self.objects)


def pair_caption(left: str, right: str, template: int = 0) -> str:
    """A two-object caption from object names ("red circle", "blue square"), left object first."""
    return PAIR_TEMPLATES[template].format(l=left, r=right)


def attribute_swap(scene: Scene) -> str | None:
    """The scene's canonical caption with the two objects' colours swapped (ARO's attribute-binding
    negative): "a red circle to the left of a blue square" -> "a blue circle to the left of a red square".
    None when it would be the same caption (same colour or same shape)."""
    if len(scene.objects) != 2:
        return None
    a, b = scene.objects
    if a.colour == b.colour or a.shape == b.shape:
        return None
    return pair_caption(f"{b.colour} {a.shape}", f"{a.colour} {b.shape}")


def relation_swap(scene: Scene) -> str | None:
    """The canonical caption with the objects in each other's place (ARO's relation-order negative):
    "a red circle to the left of a blue square" -> "a blue square to the left of a red circle"."""
    if len(scene.objects) != 2:
        return None
    a, b = scene.objects
    if a.name == b.name:
        return None
    return pair_caption(b.name, a.name)


def heldout_pairs() -> frozenset:
    """The unordered pairs of colour/shape combos (indices into COMBOS) that never occur together in
    training: a fixed quarter of all pairs of distinct combos, both objects from seen combos."""
    seen = [i for i, c in enumerate(COMBOS) if c not in UNSEEN_COMBOS]
    pairs = [(a, b) for ai, a in enumerate(seen) for b in seen[ai + 1 :]]
    rng = np.random.default_rng(12345)
    pick = rng.choice(len(pairs), size=int(round(HELDOUT_PAIR_FRACTION * len(pairs))), replace=False)
    return frozenset(pairs[i] for i in sorted(pick))


def _shape_probs(split: str) -> np.ndarray:
    """P(combo) for one object: (16,). Training: colours uniform, red mostly circles, unseen combos 0.
    Held-out: uniform over all 16."""
    if split == "test":
        return np.full(len(COMBOS), 1.0 / len(COMBOS))
    p = np.zeros(len(COMBOS))
    for i, (c, s) in enumerate(COMBOS):
        if (c, s) in UNSEEN_COMBOS:
            continue
        if c == "red":
            p[i] = RED_CIRCLE_SHARE if s == "circle" else (1 - RED_CIRCLE_SHARE) / (len(SHAPES) - 1)
        else:
            p[i] = 1.0
    for c in COLOURS:  # each colour gets a quarter of the mass
        idx = [i for i, (cc, _) in enumerate(COMBOS) if cc == c]
        p[idx] = p[idx] / p[idx].sum() / len(COLOURS)
    return p


def _check(n, kind, split):
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise DatasetError(f"shapes: n must be a non-negative integer, got {n!r}.")
    if kind not in KINDS:
        raise DatasetError(f"shapes: kind must be one of {KINDS}, got {kind!r}.")
    if split not in SPLITS:
        raise DatasetError(f"shapes: split must be 'train' (biased) or 'test' (held-out), got {split!r}.")


def sample_scenes(n: int, kind: str = "single", split: str = "train", random_state: int = 0, combos=None) -> list:
    """``n`` scenes of ``kind`` ("single", "pair", or "mixed": half each) from ``split``'s distribution.

    ``combos`` (single objects only): draw the colour/shape classes uniformly from these indices into
    COMBOS instead (e.g. a balanced audit set); they must be allowed in ``split``.
    """
    _check(n, kind, split)
    rng = np.random.default_rng([int(random_state), _SPLIT_ID[split], _KIND_ID[kind]])
    probs = _shape_probs(split)
    held = heldout_pairs()
    if combos is not None:
        combos = np.asarray(combos, dtype=np.int64)
        if combos.size == 0 or combos.min() < 0 or combos.max() >= len(COMBOS) or np.any(probs[combos] == 0):
            raise DatasetError(f"shapes: combos must be indices of COMBOS allowed in the {split!r} split.")
    out = []
    for i in range(n):
        two = kind == "pair" or (kind == "mixed" and rng.random() < 0.5)
        if not two:
            ci = int(rng.choice(combos)) if combos is not None else int(rng.choice(len(COMBOS), p=probs))
            size = SIZES[int(rng.integers(2))]
            m = RADIUS[size] + 1.5
            x, y = rng.uniform(m, IMAGE_SIZE - m, size=2)
            objs = (Obj(*COMBOS[ci], size, float(x), float(y)),)
        else:
            objs = _two_objects(rng, split, probs, held)
        out.append(Scene(objs, int(rng.integers(2**31))))
    return out


def _two_objects(rng, split, probs, held):
    seen = probs if split == "train" else _shape_probs("train")  # held-out pairs are of seen combos
    while True:
        a, b = (int(v) for v in rng.choice(len(COMBOS), size=2, p=seen))
        if a == b:
            continue
        if (tuple(sorted((a, b))) in held) == (split == "test"):
            break
    objs = []
    for ci, lo, hi in ((a, 0.0, IMAGE_SIZE / 2), (b, IMAGE_SIZE / 2, IMAGE_SIZE)):
        size = SIZES[int(rng.integers(2))]
        m = RADIUS[size] + 1.0
        x = rng.uniform(lo + m, hi - m)
        y = rng.uniform(m + 2, IMAGE_SIZE - m - 2)
        objs.append(Obj(*COMBOS[ci], size, float(x), float(y)))
    return tuple(objs)


# ---------------------------------------------------------------------------------------- rendering
_SS = 3  # supersampling per axis (anti-aliased edges)
_GRID = (np.arange(IMAGE_SIZE * _SS, dtype=np.float32) + 0.5) / _SS


def _mask(obj: Obj) -> np.ndarray:
    """Coverage (32, 32) float32 in [0, 1] of one object."""
    dx = _GRID[None, :] - np.float32(obj.x)
    dy = _GRID[:, None] - np.float32(obj.y)
    r = np.float32(RADIUS[obj.size])
    if obj.shape == "circle":
        m = dx * dx + dy * dy <= r * r
    elif obj.shape == "square":
        h = r * np.float32(0.85)
        m = (np.abs(dx) <= h) & (np.abs(dy) <= h)
    elif obj.shape == "triangle":  # pointing up
        m = (dy >= -r) & (dy <= r * np.float32(0.8)) & (np.abs(dx) <= (dy + r) * np.float32(0.58))
    else:  # cross
        t = r * np.float32(0.36)
        m = ((np.abs(dx) <= t) & (np.abs(dy) <= r)) | ((np.abs(dy) <= t) & (np.abs(dx) <= r))
    m = m.astype(np.float32).reshape(IMAGE_SIZE, _SS, IMAGE_SIZE, _SS)
    return m.mean(axis=(1, 3))


def render(scene: Scene) -> np.ndarray:
    """One scene as a uint8 (32, 32, 3) RGB image."""
    rng = np.random.default_rng(scene.noise_seed)
    img = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 28.0, np.float32)
    img += rng.normal(0.0, 4.0, size=img.shape).astype(np.float32)
    for o in scene.objects:
        cov = _mask(o)[:, :, None]
        jitter = rng.uniform(-12, 12, size=3).astype(np.float32)
        img = img * (1 - cov) + (np.asarray(RGB[o.colour], np.float32) + jitter) * cov
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def render_all(scenes) -> np.ndarray:
    """Scenes as a uint8 (n, 32, 32, 3) array."""
    scenes = list(scenes)
    if not scenes:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    return np.stack([render(s) for s in scenes])


def captions(scenes, random_state: int = 0, templates=None) -> list:
    """One caption per scene: drawn (seeded) from its training caption distribution
    (``Scene.caption_choices``), or from template ``templates[i]`` (SINGLE_ / PAIR_TEMPLATES) when given."""
    scenes = list(scenes)
    rng = np.random.default_rng(int(random_state))
    out = []
    for i, s in enumerate(scenes):
        if templates is not None:
            k = len(SINGLE_TEMPLATES if s.kind == "single" else PAIR_TEMPLATES)
            out.append(s.caption(int(templates[i]) % k))
        else:
            caps, p = s.caption_choices()
            out.append(caps[int(rng.choice(len(caps), p=p))])
    return out


def labels(scenes) -> dict:
    """Exact attribute labels of every scene, as arrays (object 2's columns are -1 / NaN for single scenes):
    ``n_objects``, ``combo{1,2}`` (index into COMBOS), ``colour{1,2}``, ``shape{1,2}``, ``size{1,2}`` (indices
    into COLOURS / SHAPES / SIZES), ``x{1,2}``, ``y{1,2}`` (pixels). Object 1 is the left one."""
    scenes = list(scenes)
    n = len(scenes)
    out = {"n_objects": np.array([len(s.objects) for s in scenes], np.int64)}
    for k in (1, 2):
        for name, table in (("combo", None), ("colour", COLOURS), ("shape", SHAPES), ("size", SIZES)):
            col = np.full(n, -1, np.int64)
            for i, s in enumerate(scenes):
                if len(s.objects) >= k:
                    o = s.objects[k - 1]
                    col[i] = o.combo if table is None else table.index(getattr(o, name))
            out[f"{name}{k}"] = col
        for name in ("x", "y"):
            col = np.full(n, np.nan, np.float32)
            for i, s in enumerate(scenes):
                if len(s.objects) >= k:
                    col[i] = getattr(s.objects[k - 1], name)
            out[f"{name}{k}"] = col
    return out


def class_prompts(template: str = PROMPT_TEMPLATE) -> list:
    """One zero-shot prompt per colour/shape class, in COMBOS order ("a photo of a red circle", ...)."""
    return [template.format(colour=c, shape=s) for c, s in COMBOS]


def class_names() -> tuple:
    """The 16 class names in COMBOS order ("red circle", ...)."""
    return tuple(f"{c} {s}" for c, s in COMBOS)
