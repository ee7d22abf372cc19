"""Ready-made data for the widget: the embedded default (digits), the real COCO-500 CLIP set, and loaders
for pre-computed embeddings (numpy / parquet / pandas) so users with their own CLIP features skip encoding.

``load_default()`` and ``load_coco500()`` return a ``ChorusData`` bundle: an ``EmbeddingSet`` (images first,
then texts) plus what a demo needs around it (class names, prompt rows, split, raw items, encoder).
Nothing heavy is imported at module import; torch / sentence-transformers load on first use.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DatasetError, InputTypeError, MissingFileError
from .embeddings import MODALITIES, EmbeddingSet

_COCO_FILES = ("clip_vitb16_img_txt.npy", "captions.json")


@dataclass
class ChorusData:
    """A dataset ready for the widget.

    embeddings : EmbeddingSet, image rows first, then text rows.
    class_names : the classes (labels) used for zero-shot classification / colouring.
    prompt_index : row index (into ``embeddings``) of each class prompt, in ``class_names`` order
        (empty when the set has no class prompts, e.g. COCO-500 has only captions).
    image_index : row indices of the image rows.
    image_labels : class index (into ``class_names``) of every image row, in ``image_index`` order.
    train / test : the fixed split, as row indices of image rows (None when there is none).
    images : raw images (8x8 arrays for digits; file paths or None for COCO-500), one per image row.
    captions : the text of every text row, in order.
    pairs : (n, 2) array of (image row, text row) true pairs, when the set is paired (COCO-500).
    encoder : an Encoder that embeds new images/texts into this space, or None (COCO-500: CLIP ViT-B/16
        features were pre-computed and its weights are not available offline).
    info : free description (provenance, timings, split recipe).
    """

    name: str
    embeddings: EmbeddingSet
    class_names: tuple
    prompt_index: np.ndarray
    image_index: np.ndarray
    image_labels: np.ndarray
    train: np.ndarray | None = None
    test: np.ndarray | None = None
    images: object = None
    captions: list = field(default_factory=list)
    pairs: np.ndarray | None = None
    encoder: object = None
    info: dict = field(default_factory=dict)

    @property
    def prompts(self) -> list[str]:
        """Text of the class prompts, in ``class_names`` order."""
        items = self.embeddings.items
        return [] if items is None else [items[i] for i in self.prompt_index]

    def predict(self, embeddings=None) -> np.ndarray:
        """Zero-shot class index of every image row: the nearest class prompt by cosine.

        ``embeddings``: an EmbeddingSet with this data's rows after an alignment (``aligner.embeddings_``,
        ``w.embeddings``); its image rows are read against its own class-prompt rows, since a round moves
        the prompts as well as the images. Default: this data's own embeddings.
        """
        if len(self.prompt_index) == 0:
            raise DatasetError(f"{self.name}: no class prompts in this set, so zero-shot prediction is undefined.")
        from ..evaluation import zero_shot_predict

        es = self.embeddings if embeddings is None else embeddings
        if not isinstance(es, EmbeddingSet):
            raise InputTypeError(
                f"{self.name}.predict: embeddings must be an EmbeddingSet with this data's rows (e.g. "
                f"aligner.embeddings_ or w.embeddings), got {type(es).__name__}; image vectors alone would be "
                "read against the class prompts before the alignment moved them."
            )
        if es.n != self.embeddings.n:
            raise DatasetError(
                f"{self.name}.predict: embeddings has {es.n} rows, this data has {self.embeddings.n}; pass the "
                "aligned version of data.embeddings (same rows, same order)."
            )
        v = es.vectors
        return zero_shot_predict(v[self.image_index], v[self.prompt_index])

    def zero_shot_accuracy(self, rows=None) -> float:
        """Zero-shot accuracy over image rows ``rows`` (default: the held-out ``test`` rows, else all)."""
        rows = self.test if rows is None else rows
        rows = self.image_index if rows is None else np.asarray(rows)
        pos = np.searchsorted(self.image_index, rows)
        if np.any(pos >= len(self.image_index)) or np.any(
            self.image_index[np.minimum(pos, len(self.image_index) - 1)] != rows
        ):
            raise DatasetError(f"{self.name}: zero_shot_accuracy rows must be image rows of the set.")
        return float(np.mean(self.predict()[pos] == self.image_labels[pos]))


# ------------------------------------------------------------------------------------------- COCO-500
COCO500_DIR = Path(__file__).resolve().parent / "coco500"


def coco500_path() -> Path:
    """The folder of the COCO-500 embeddings and captions that ship with the package."""
    return COCO500_DIR


# Coarse labels for COCO captions: the first group (in this order) any of whose words occurs in the
# caption (whole words, lower case) names the pair; "other" when none does. Specific objects come before
# scenes and people, so "a man riding a motorcycle" is "motorcycle" and "a cat on a toilet" is "cat".
COCO_COARSE_LABELS: tuple = (
    ("giraffe", ("giraffe", "giraffes")),
    ("zebra", ("zebra", "zebras")),
    ("elephant", ("elephant", "elephants")),
    ("horse", ("horse", "horses", "pony")),
    ("sheep", ("sheep", "lamb", "lambs")),
    ("cow", ("cow", "cows", "cattle", "bull")),
    ("bear", ("bear", "bears")),
    ("bird", ("bird", "birds", "pigeon", "pigeons", "duck", "ducks", "seagull", "parrot")),
    ("cat", ("cat", "cats", "kitten", "kittens", "kitty")),
    ("dog", ("dog", "dogs", "puppy", "puppies")),
    ("pizza", ("pizza", "pizzas")),
    ("banana", ("banana", "bananas")),
    ("cake", ("cake", "cakes", "cupcake", "donut", "donuts", "doughnut")),
    (
        "food",
        (
            "sandwich",
            "food",
            "meal",
            "plate",
            "broccoli",
            "vegetables",
            "fruit",
            "fruits",
            "orange",
            "oranges",
            "apple",
            "apples",
            "hot dog",
            "salad",
        ),
    ),
    ("train", ("train", "trains", "locomotive")),
    ("airplane", ("airplane", "airplanes", "plane", "planes", "jet", "jets", "aircraft", "airliner", "jetliner")),
    ("motorcycle", ("motorcycle", "motorcycles", "motorbike", "motorbikes", "scooter", "scooters", "moped")),
    ("bicycle", ("bicycle", "bicycles", "bike", "bikes", "cyclist")),
    ("bus", ("bus", "buses")),
    ("truck", ("truck", "trucks")),
    ("car", ("car", "cars", "taxi", "van")),
    ("boat", ("boat", "boats", "ship", "sailboat", "kayak")),
    (
        "sports",
        (
            "skateboard",
            "skateboarder",
            "surfboard",
            "surfer",
            "skis",
            "skier",
            "snowboard",
            "tennis",
            "baseball",
            "frisbee",
            "kite",
            "soccer",
        ),
    ),
    ("bathroom", ("toilet", "toilets", "bathroom", "bathrooms", "restroom", "shower", "bathtub", "tub", "urinal")),
    ("kitchen", ("kitchen", "stove", "oven", "refrigerator", "fridge", "microwave")),
    ("computer", ("laptop", "laptops", "computer", "computers", "keyboard", "monitor", "monitors")),
    ("tv", ("tv", "television")),
    ("bed", ("bed", "bedroom")),
    ("street", ("street", "traffic", "intersection", "road", "sidewalk")),
    (
        "person",
        (
            "man",
            "men",
            "woman",
            "women",
            "person",
            "people",
            "child",
            "children",
            "boy",
            "girl",
            "kid",
            "kids",
            "lady",
            "guy",
            "player",
            "crowd",
        ),
    ),
)


def coarse_label(caption: str, groups=COCO_COARSE_LABELS) -> str:
    """The coarse category of a caption (see ``COCO_COARSE_LABELS``), or "other"."""
    text = " " + " ".join(re.findall(r"[a-z]+", caption.lower())) + " "
    for name, words in groups:
        if any(f" {w} " in text for w in words):
            return name
    return "other"


def load_coco500(path=None, images=None) -> ChorusData:
    """The real CLIP ViT-B/16 embeddings of 500 COCO val2017 image/caption pairs (pre-computed, shipped with
    the package; see ``coco500/PROVENANCE.md``): rows 0..499 are images, rows 500..999 their captions (row i
    pairs with 500 + i). Labels are coarse categories from caption words (``coarse_label``; the same label for
    an image and its caption).

    Parameters
    ----------
    path : str or Path, optional
        A folder with the same files (``clip_vitb16_img_txt.npy``, ``captions.json``); default: the packaged
        copy.
    images : str or Path, optional
        A folder of ``NNN_<cocoid>.jpg`` files to attach as the image rows' ``items`` (default:
        ``path/images`` when it exists; the packaged copy has no images).

    Returns
    -------
    ChorusData
        ``embeddings`` (an EmbeddingSet of 1,000 rows), the captions, and the pairs.

    Examples
    --------
    >>> from modalchorus_widget import load_coco500
    >>> es = load_coco500().embeddings
    >>> es.n, es.vectors.shape[1]
    (1000, 512)
    """
    folder = Path(path) if path is not None else COCO500_DIR
    for f in _COCO_FILES:
        if not (folder / f).is_file():
            raise MissingFileError(
                f"load_coco500: '{folder / f}' is missing; the folder must hold {list(_COCO_FILES)}."
            )
    vec = np.load(folder / _COCO_FILES[0])
    if vec.ndim != 3 or vec.shape[0] != 2:
        raise DatasetError(f"load_coco500: {_COCO_FILES[0]} has shape {vec.shape}; expected (2, n, d) (images, texts).")
    img, txt = vec[0], vec[1]
    n = img.shape[0]
    caps = json.loads((folder / _COCO_FILES[1]).read_text())
    if len(caps) != n:
        raise DatasetError(f"load_coco500: {len(caps)} captions for {n} embedding pairs.")
    caps = sorted(caps, key=lambda c: c["index"])
    captions = [c["caption"] for c in caps]
    labels = [coarse_label(c) for c in captions]
    image_paths: list = [None] * n
    img_dir = Path(images) if images is not None else folder / "images"
    if images is not None and not img_dir.is_dir():
        raise MissingFileError(f"load_coco500: images folder '{img_dir}' does not exist.")
    if img_dir.is_dir():
        for p in sorted(img_dir.glob("*.jpg")):
            m = re.match(r"(\d+)_", p.name)
            if m and int(m.group(1)) < n:
                image_paths[int(m.group(1))] = str(p)
    cocoid = [re.search(r"(\d+)\.jpg$", c.get("coco_url", "")) for c in caps]
    cocoid = [int(m.group(1)) if m else -1 for m in cocoid]
    meta = pd.DataFrame({"pair": list(range(n)) * 2, "coco_id": cocoid * 2, "caption": captions * 2})
    ids = [f"image-{i}" for i in range(n)] + [f"text-{i}" for i in range(n)]
    es = EmbeddingSet.from_pairs(
        img,
        txt,
        labels=labels,
        text_labels=labels,
        image_items=image_paths,
        captions=captions,
        space="clip-vitb16",
        ids=ids,
        meta=meta,
    )
    class_names = tuple(sorted(set(labels)))
    lab_idx = {c: i for i, c in enumerate(class_names)}
    return ChorusData(
        name="coco500-clip-vitb16",
        embeddings=es,
        class_names=class_names,
        prompt_index=np.zeros(0, dtype=np.int64),
        image_index=np.arange(n),
        image_labels=np.array([lab_idx[c] for c in labels], dtype=np.int64),
        images=image_paths,
        captions=captions,
        pairs=np.stack([np.arange(n), n + np.arange(n)], axis=1),
        encoder=None,
        info={
            "source": str(folder.name),
            "model": "OpenAI CLIP ViT-B/16 (pre-computed, Liang et al. 2022)",
            "labels": "coarse_label(caption) with COCO_COARSE_LABELS",
            "n_images_with_files": int(sum(p is not None for p in image_paths)),
        },
    )


# ------------------------------------------------------------------------ pre-computed embeddings
def from_arrays(
    images=None, texts=None, image_labels=None, text_labels=None, image_items=None, captions=None, space: str = "clip"
) -> EmbeddingSet:
    """An EmbeddingSet from pre-computed image and/or text vectors (numpy arrays), images first."""
    if images is None and texts is None:
        raise DatasetError("from_arrays: give images, texts or both (arrays of shape (n, d)).")
    if images is not None and texts is not None:
        return EmbeddingSet.from_pairs(
            images,
            texts,
            labels=image_labels,
            text_labels=text_labels,
            image_items=image_items,
            captions=captions,
            space=space,
        )
    if images is not None:
        return EmbeddingSet(images, "image", labels=image_labels, items=image_items, space=space)
    return EmbeddingSet(texts, "text", labels=text_labels, items=captions, space=space)


def load_numpy(path, modality: str | None = None, labels=None, items=None, space: str = "clip") -> EmbeddingSet:
    """Load pre-computed embeddings from ``.npy`` or ``.npz``.

    - ``.npy`` of shape (n, d): one modality (``modality``, default "image");
    - ``.npy`` of shape (2, n, d): image embeddings then text embeddings (the COCO-500 layout);
    - ``.npz`` with arrays ``images`` and/or ``texts`` (optional ``image_labels``, ``text_labels``,
      ``captions``), images first.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"load_numpy: '{path}' does not exist.")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if not keys & {"images", "texts"}:
                raise DatasetError(f"load_numpy: '{path}' has arrays {sorted(keys)}; expected 'images' and/or 'texts'.")
            get = lambda k: z[k] if k in keys else None  # noqa: E731
            caps = get("captions")
            return from_arrays(
                get("images"),
                get("texts"),
                get("image_labels"),
                get("text_labels"),
                captions=None if caps is None else [str(c) for c in caps],
                space=space,
            )
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == 3 and arr.shape[0] == 2:
        return from_arrays(arr[0], arr[1], image_labels=labels, text_labels=labels, space=space)
    if arr.ndim != 2:
        raise DatasetError(f"load_numpy: '{path}' has shape {arr.shape}; expected (n, d) or (2, n, d).")
    return EmbeddingSet(arr, modality or "image", labels=labels, items=items, space=space)


def _vector_columns(df: pd.DataFrame) -> list:
    """Columns whose cells are numeric vectors (arrays or lists of numbers, more than one), judged on the
    first non-null cell of each object column."""
    found = []
    for c in df.columns:
        if df[c].dtype != object:
            continue
        cells = df[c].dropna()
        if not len(cells):
            continue
        v = cells.iloc[0]
        if isinstance(v, (list, tuple, np.ndarray)) and len(v) > 1:
            arr = np.asarray(v)
            if arr.ndim == 1 and (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                found.append(c)
    return found


def from_dataframe(
    df: pd.DataFrame,
    vector_column: str | None = None,
    vector_columns=None,
    modality_column: str = "modality",
    label_column: str | None = "label",
    item_column: str | None = "item",
    id_column: str | None = "id",
    modality: str | None = None,
    space: str = "clip",
    text_column: str | None = None,
    image_column: str | None = None,
) -> EmbeddingSet:
    """An EmbeddingSet from a DataFrame, one row per item.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows.
    vector_column : str, optional
        The column of vectors (arrays or lists). Default: the one column whose cells are vectors (as
        Embedding Atlas finds it); a clear error when none or several are.
    vector_columns : list of str, optional
        Instead: several numeric columns, one per dimension (e.g. ``[f"e{i}" for i in range(512)]``).
    modality_column : str, default "modality"
        The column of modality names.
    label_column, item_column, id_column : str, optional
        Columns of labels, raw items and ids, used when the frame has them.
    modality : str, optional
        One modality for every row, instead of ``modality_column``.
    space : str, default "clip"
        The name of the embedding space.
    text_column, image_column : str, optional
        Columns of the raw texts / images of the text / image rows (their items).

    Returns
    -------
    EmbeddingSet
        Other columns become ``meta``.

    Raises
    ------
    InputTypeError
        ``df`` is not a DataFrame.
    DatasetError
        No column of vectors, several, vectors of different lengths, or an unknown column.
    EmbeddingError
        Bad vectors or modality names.

    Examples
    --------
    >>> es = from_dataframe(df)  # doctest: +SKIP
    """
    if not isinstance(df, pd.DataFrame):
        raise InputTypeError(f"from_dataframe: expected a pandas DataFrame, got {type(df).__name__}.")
    used = []
    if vector_columns is not None:
        missing = [c for c in vector_columns if c not in df.columns]
        if missing:
            raise DatasetError(f"from_dataframe: vector columns {missing[:5]} are not in the frame.")
        vec = df[list(vector_columns)].to_numpy(dtype=np.float32)
        used += list(vector_columns)
    else:
        if vector_column is None:
            found = _vector_columns(df)
            if len(found) != 1:
                what = "no column holds" if not found else f"columns {found} all hold"
                raise DatasetError(
                    f"from_dataframe: {what} vectors (arrays or lists of numbers); columns are "
                    f"{list(df.columns)[:10]}. Pass vector_column=NAME (or vector_columns=[...] for one column "
                    "per dimension)."
                )
            vector_column = found[0]
        if vector_column not in df.columns:
            raise DatasetError(
                f"from_dataframe: no column {vector_column!r} holding vectors; columns are {list(df.columns)[:10]}. "
                "Pass vector_column=NAME or vector_columns=[...]."
            )
        try:
            vec = np.stack([np.asarray(v, dtype=np.float32) for v in df[vector_column]])
        except (ValueError, TypeError) as exc:
            raise DatasetError(
                f"from_dataframe: column {vector_column!r} holds vectors of different lengths or non-numbers; "
                "check the column."
            ) from exc
        used.append(vector_column)
    if modality is not None:
        mod = modality
    elif modality_column in df.columns:
        mod = df[modality_column].astype(str).to_numpy()
        used.append(modality_column)
    else:
        raise DatasetError(
            f"from_dataframe: no column {modality_column!r}; pass modality='image' (or 'text') "
            f"for all rows, or modality_column=NAME. Known modalities: {list(MODALITIES)}."
        )
    kw = {}
    for key, col in (("labels", label_column), ("items", item_column), ("ids", id_column)):
        if col is not None and col in df.columns:
            kw[key] = df[col].to_numpy()
            used.append(col)
    by_modality = {m: c for m, c in (("text", text_column), ("image", image_column)) if c is not None}
    if by_modality:
        missing = [c for c in by_modality.values() if c not in df.columns]
        if missing:
            raise DatasetError(f"from_dataframe: no column(s) {missing}; columns are {list(df.columns)[:10]}.")
        mods = np.broadcast_to(np.asarray(mod, dtype=object), (len(df),))
        items = np.array(kw.get("items", np.full(len(df), None, dtype=object)), dtype=object)
        for m, c in by_modality.items():
            rows = mods == m
            items[rows] = df[c].to_numpy(dtype=object)[rows]
        kw["items"] = items
        used += [c for c in dict.fromkeys(by_modality.values()) if c not in used]
    meta = df.drop(columns=used).reset_index(drop=True)
    return EmbeddingSet(vec, mod, meta=meta if len(meta.columns) else None, space=space, **kw)


def load_parquet(path, **kw) -> EmbeddingSet:
    """Load pre-computed embeddings from a parquet file (see ``from_dataframe`` for the columns: by default the
    one column that holds vectors, and a ``modality`` column)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"load_parquet: '{path}' does not exist.")
    return from_dataframe(pd.read_parquet(path), **kw)


def load_embeddings(path, **kw) -> EmbeddingSet:
    """Load pre-computed embeddings by file type.

    Parameters
    ----------
    path : str or Path
        A ``.npy``/``.npz`` file (``load_numpy``: an (n, d) array, or ``images`` / ``texts`` arrays), a
        ``.parquet`` file (``load_parquet``: a column of vectors and a modality column, see ``from_dataframe``),
        or a file written by ``EmbeddingSet.save``.
    **kw
        Passed to the reader (e.g. ``vector_column=`` for parquet, ``modality=`` for a plain array).

    Returns
    -------
    EmbeddingSet

    Raises
    ------
    DatasetError
        An unknown file type; MissingFileError when there is no such file.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from modalchorus_widget import load_embeddings
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "features.npy"
    >>> np.save(path, np.random.default_rng(0).normal(size=(4, 8)).astype("float32"))
    >>> load_embeddings(path, modality="image").n
    4
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return load_parquet(path, **kw)
    if suffix == ".npz":
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                if not set(z.files) & {"images", "texts"}:
                    return EmbeddingSet.load(path)
        return load_numpy(path, **kw)
    if suffix == ".npy":
        return load_numpy(path, **kw)
    raise DatasetError(f"load_embeddings: unknown file type '{suffix}' for '{path}'; use .npy, .npz or .parquet.")
