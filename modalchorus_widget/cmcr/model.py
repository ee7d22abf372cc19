"""C-MCR: connect two multi-modal contrastive spaces through a modality they share (docs/methods.md section 5).

Space 1 embeds modalities (A, B), space 2 embeds (B, C); the same unpaired items of the shared modality B
are embedded by both (e.g. one caption through CLIP-text and through CLAP-text or MiniLM). ``CMCR`` learns a
projector per space into one connected space in which A and C become comparable although no (A, C) pair
was ever seen:

- semantic enhancement: (a) *completion*: Gaussian noise (``noise_std``) is added to every input and
  re-normalised, so the projectors learn a neighbourhood instead of points (and carry over across each
  space's modality gap); (b) *consistency*: every shared embedding b gets a pseudo embedding of each
  other modality of its space, the softmax(cos(b, memory) / ``memory_temperature``)-weighted mean of an
  **unpaired** memory of that modality (the non-shared rows given to ``fit``; their order and any pairing
  with the shared rows is never used);
- inter-MCR loss: symmetric InfoNCE (``temperature``) between p1(b1) and p2(b2), and between the
  pseudo embeddings of both spaces (a space without another modality uses its shared embedding);
- intra-MCR loss: within each space, 1 - cos between p(b) and p(pseudo), closing each space's modality gap
  so the connection learnt on B carries over to A and C;
- total: L_inter + ``lam`` * L_intra.

Projectors: ``projector="linear"`` (Linear -> BatchNorm -> L2, the default: better with small data, see
``CMCR``) or ``"mlp"`` (docs/methods.md: Linear d -> ``hidden``, BatchNorm, ReLU, Linear -> ``out_dim``,
BatchNorm, L2-normalise). torch is imported lazily (inside functions) so ``import modalchorus_widget`` stays fast.
"""

from __future__ import annotations

import inspect
import json
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from ..data.validation import Check, Interval, Options, check_modality, check_params, check_vectors
from ..device import device_ok, resolve_device
from ..errors import CMCRError, MissingFileError, NotFittedError
from ..threads import torch_threads
from .train import _make_projector, train_projectors

FORMAT = "modalchorus-cmcr"
FORMAT_VERSION = 1
_PARAMS = (
    "shared",
    "out_dim",
    "hidden",
    "projector",
    "noise_std",
    "temperature",
    "memory_temperature",
    "lam",
    "use_consistency",
    "use_intra",
    "n_epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "names",
    "random_state",
    "n_threads",
    "verbose",
    "device",
)


# ------------------------------------------------------------------------------------------ input parsing
def _unit(x: np.ndarray, where: str) -> np.ndarray:
    return check_vectors(x, where, normalize="always")


def _split_space(space, where: str) -> tuple[dict[str, np.ndarray], str | None]:
    """A space as {modality: unit-row float32 array} (+ its name when it is an EmbeddingSet)."""
    if isinstance(space, dict):
        if not space:
            raise CMCRError(f"{where}: empty dict; give {{modality: (n, d) array}} with the shared modality.")
        out = {str(m): _unit(v, f"CMCR.fit: {where}[{m!r}]") for m, v in space.items()}
        name = None
    elif hasattr(space, "vectors") and hasattr(space, "modality"):
        vec = np.asarray(space.vectors)
        mods = np.asarray(space.modality).astype(str)
        out = {m: _unit(vec[mods == m], f"CMCR.fit: {where} ({m} rows)") for m in dict.fromkeys(mods.tolist())}
        name = getattr(space, "space", None)
    else:
        raise CMCRError(
            f"{where}: expected an EmbeddingSet or a dict {{modality: (n, d) array}}, got {type(space).__name__}."
        )
    dims = {m: v.shape[1] for m, v in out.items()}
    if len(set(dims.values())) > 1:
        raise CMCRError(
            f"{where}: modalities have different dimensions {dims}; all embeddings of one space "
            "must come from the same model's joint space."
        )
    return out, name


def _recall(sim: np.ndarray, ks=(1, 5, 10)) -> dict[str, float]:
    rank = (sim > np.diag(sim)[:, None]).sum(axis=1)
    return {f"r{k}": float((rank < k).mean()) for k in ks}


# ------------------------------------------------------------------------------------------ the estimator
class CMCR(BaseEstimator):
    """Connect two contrastive spaces through a shared modality (C-MCR); scikit-learn style.

    Parameters
    ----------
    shared : the modality both spaces embed (default ``"text"``).
    out_dim : dimension of the connected space.
    hidden : hidden width of the MLP projectors.
    projector : ``"linear"`` (Linear-BN, default) or ``"mlp"`` (docs/methods.md: Linear-BN-ReLU-Linear-BN). The
        linear projector is the default because it measured better at the data sizes a notebook user has
        (hundreds to thousands of shared pairs): COCO 350 pairs, MiniLM -> CLIP-image R@1 0.44 vs 0.40 for
        the MLP; synthetic 2,000 pairs, 70 % vs 41 % of the oracle (both with lam=0.1, 100 epochs, unscaled
        noise), and 5-10x faster to train.
    noise_std : per-coordinate std of the Gaussian noise added to unit inputs during training (completion),
        for 512-d vectors; in a d-dimensional space it is scaled by sqrt(512 / d), so that every space gets
        the same relative perturbation (noise norm about ``noise_std * sqrt(512)``). 0 disables. Measured:
        an unscaled 0.04 is far too weak for 64-d spaces (synthetic benchmark at 70 % of the oracle instead
        of 90 %).
    temperature : InfoNCE temperature of the inter-MCR loss.
    memory_temperature : softmax temperature of the memory-based consistency (CLIP's own logit scale is 1/0.01).
    lam : weight of the intra-MCR loss (``L_inter + lam * L_intra``). The intra term is 1 - cos, whose
        gradients are ~1/temperature times smaller than InfoNCE's, so it needs a large weight to act at all: at 0.1
        the outputs moved by < 0.003; 5 measured best (COCO R@1 0.51 vs 0.47, R@5 0.82 vs 0.83, 3 seeds;
        synthetic 95 % vs 93 % of the oracle).
    use_consistency : build pseudo embeddings from the unpaired memories (False: shared data only).
    use_intra : add the intra-MCR loss (only meaningful with consistency).
    n_epochs, batch_size, learning_rate, weight_decay : AdamW training schedule over the shared pairs.
    names : names of the two spaces (default: the EmbeddingSets' ``space`` if distinct, else space1/space2).
    random_state : seed (default 0; None: a fresh one); equal seeds give identical projectors on the same inputs.
    n_threads : torch CPU threads while fitting (at most 2 on shared machines; the small projectors train
        fastest on 1 thread, and much faster than on 2 when the cores are busy).
    verbose : show a tqdm progress bar.
    device : where the projectors train and ``transform`` runs: ``"auto"`` (default) is CUDA when torch sees a GPU,
        else the CPU (``device.resolve_device``); ``device_`` says which the fit used. Random draws stay on the CPU
        (``cmcr/train.py``): a CPU fit is bit-identical to one before the parameter existed.

    Attributes
    ----------
    spaces_ : the two spaces' names.
    dims_ : input dimension per space.
    modalities_ : modalities seen per space.
    memory_sizes_ : rows of each unpaired memory.
    history_ : loss per epoch.
    train_s_ : seconds the fit took.
    device_ : the torch device the fit used ("cpu" or "cuda").

    Examples
    --------
    >>> from modalchorus_widget.cmcr import CMCR, make_synthetic
    >>> data = make_synthetic(n_train=500, n_memory=500, n_test=100)
    >>> model = CMCR(n_epochs=20, random_state=0).fit(*data["train"])
    >>> model.transform(data["test_a"], "image").shape  # image rows are space 1's
    (100, 512)
    """

    _parameter_constraints = {
        "shared": [Check(lambda v: isinstance(v, str) and v, "a modality name")],
        "out_dim": [Interval(Integral, 1, None)],
        "hidden": [Interval(Integral, 1, None)],
        "projector": [Options("linear", "mlp")],
        "noise_std": [Interval(Real, 0, None)],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "memory_temperature": [Interval(Real, 0, None, closed="neither")],
        "lam": [Interval(Real, 0, None)],
        "use_consistency": ["boolean"],
        "use_intra": ["boolean"],
        "n_epochs": [Interval(Integral, 1, None)],
        "batch_size": [Interval(Integral, 2, None)],  # InfoNCE needs negatives in the batch
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None)],
        "names": [None, Check(lambda v: len(v) == 2 and v[0] != v[1], "two distinct names, one per space")],
        "random_state": [None, Interval(Integral, 0, None)],
        "n_threads": [Interval(Integral, 1, None)],
        "verbose": ["boolean"],
        "device": [Check(device_ok, "'auto' (CUDA when torch sees a GPU, else the CPU), 'cpu', 'cuda' or 'cuda:N'")],
    }

    def __init__(
        self,
        shared: str = "text",
        out_dim: int = 512,
        hidden: int = 1024,
        projector: str = "linear",
        noise_std: float = 0.04,
        temperature: float = 0.05,
        memory_temperature: float = 0.01,
        lam: float = 5.0,
        use_consistency: bool = True,
        use_intra: bool = True,
        n_epochs: int = 200,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        names=None,
        random_state=0,
        n_threads: int = 1,
        verbose: bool = False,
        device: str = "auto",
    ):
        self.shared = shared
        self.out_dim = out_dim
        self.hidden = hidden
        self.projector = projector
        self.noise_std = noise_std
        self.temperature = temperature
        self.memory_temperature = memory_temperature
        self.lam = lam
        self.use_consistency = use_consistency
        self.use_intra = use_intra
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.names = names
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.device = device

    # ------------------------------------------------------------------ fit
    def fit(self, space1, space2) -> CMCR:
        """Learn both projectors from the shared modality (row i of space 1 and of space 2: the same item).

        ``space1`` / ``space2``: EmbeddingSet or ``{modality: (n, d) array}``. Rows of the shared modality must
        be paired across the spaces, in order. Rows of other modalities are an unpaired memory for the
        consistency step (their order is irrelevant). Raises ``CMCRError`` (a ValueError) on bad input, with
        the estimator left as it was.
        """
        check_params(self, "CMCR")
        s1, name1 = _split_space(space1, "space1")
        s2, name2 = _split_space(space2, "space2")
        sh = self.shared
        for where, s in (("space1", s1), ("space2", s2)):
            if sh not in s:
                raise CMCRError(
                    f"{where} has no {sh!r} rows (modalities: {sorted(s)}); C-MCR needs the shared "
                    f"modality {sh!r} embedded by both spaces, or set shared= to the one they share."
                )
        b1, b2 = s1[sh], s2[sh]
        if len(b1) != len(b2):
            raise CMCRError(
                f"shared modality {sh!r}: space1 has {len(b1)} rows but space2 has {len(b2)}; "
                "row i of both must embed the same item, so give the same items to both spaces."
            )
        if len(b1) < 2:
            raise CMCRError(f"shared modality {sh!r}: {len(b1)} row(s); need at least 2 pairs to train.")
        if self.names is not None:
            names = tuple(str(n) for n in self.names)
        elif name1 and name2 and name1 != name2:
            names = (str(name1), str(name2))
        else:
            names = ("space1", "space2")

        device = resolve_device(self.device, "CMCR(device=...)")
        t0 = time.perf_counter()
        mem1 = {m: v for m, v in s1.items() if m != sh} if self.use_consistency else {}
        mem2 = {m: v for m, v in s2.items() if m != sh} if self.use_consistency else {}
        p1, p2, history, n = train_projectors(self, b1, b2, mem1, mem2, device)
        self.projectors_, self.device_ = (p1, p2), device
        self.spaces_ = names
        self.dims_ = (int(b1.shape[1]), int(b2.shape[1]))
        self.modalities_ = (tuple(s1), tuple(s2))
        self.memory_sizes_ = ({m: int(len(v)) for m, v in mem1.items()}, {m: int(len(v)) for m, v in mem2.items()})
        self.n_pairs_ = int(n)
        self.history_ = history
        self.train_s_ = time.perf_counter() - t0
        return self

    # ------------------------------------------------------------------ transform
    def _check_fitted(self):
        if not hasattr(self, "projectors_"):
            raise NotFittedError("this CMCR is not fitted yet; call fit(space1, space2) or CMCR.load(path) first.")

    def _infer_space(self, modalities: set, dim: int) -> int:
        """The one space whose modalities include ``modalities`` and whose dimension is ``dim``."""
        fits = [k for k in (0, 1) if modalities <= set(self.modalities_[k]) and self.dims_[k] == dim]
        if len(fits) == 1:
            return fits[0]
        raise CMCRError(
            f"CMCR.transform: cannot tell which space these {dim}-d vectors"
            f"{' of ' + str(sorted(modalities)) if modalities else ''} come from ({'both' if fits else 'neither'} of "
            f"{list(self.spaces_)} fits); pass space=1 or 2 (or its name)."
        )

    def _space_index(self, space) -> int:
        if space in (1, 2):
            return int(space) - 1
        if space in self.spaces_:
            return self.spaces_.index(space)
        raise CMCRError(f"space={space!r}; use 1, 2, or one of the names {list(self.spaces_)}.")

    def transform(self, vectors, modality=None, *, space=None, batch_size: int = 4096) -> np.ndarray:
        """Project embeddings of one space (any of its modalities) into the connected space.

        Parameters
        ----------
        vectors : array-like (n, d) or EmbeddingSet
            Embeddings of one of the two spaces.
        modality : str or sequence of str, optional
            One name for every row, or one per row (an EmbeddingSet's own by default); checked against the
            modalities the space was fitted with.
        space : {1, 2} or str, optional
            The space ``vectors`` come from (1, 2 or its name). Default: the one space that has ``modality``,
            else the one space of the vectors' dimension; a clear error when both would fit.
        batch_size : int, default 4096
            Rows projected at a time.

        Returns
        -------
        numpy.ndarray
            Unit rows, float32 (n, out_dim).

        Raises
        ------
        EmbeddingError
            Vectors that are not finite, zero, or of the other dimension.
        CMCRError
            An unknown space, a modality the space was not fitted with, or a space that cannot be told.
        NotFittedError
            Before ``fit``.

        Examples
        --------
        >>> z = model.transform(image_vectors, "image")  # doctest: +SKIP
        """
        self._check_fitted()
        if modality is None and hasattr(vectors, "modality") and hasattr(vectors, "vectors"):
            modality = vectors.modality
        x = check_vectors(vectors, "CMCR.transform", normalize="always")
        mods = None if modality is None else check_modality(modality, len(x), "CMCR.transform", known=None)
        names = set() if mods is None else set(mods.tolist())
        k = self._space_index(space) if space is not None else self._infer_space(names, x.shape[1])
        if not names <= set(self.modalities_[k]):
            raise CMCRError(
                f"CMCR.transform: modality {sorted(names - set(self.modalities_[k]))} was not part of space "
                f"{self.spaces_[k]!r} when fitted (it had {list(self.modalities_[k])}); project it with the space "
                "that embeds it (space=...)."
            )
        x = check_vectors(x, f"CMCR.transform (space {self.spaces_[k]!r})", dim=self.dims_[k])
        import torch

        dev = getattr(self, "device_", "cpu")  # a loaded model: the CPU
        p = self.projectors_[k] if dev == "cpu" else self._on_device(k, dev)
        out = np.empty((len(x), self.out_dim), dtype=np.float32)
        with torch_threads(max(1, int(self.n_threads))), torch.no_grad():
            for s in range(0, len(x), batch_size):
                z = p(torch.from_numpy(np.array(x[s : s + batch_size])).to(dev))  # x may be a read-only view
                out[s : s + batch_size] = torch.nn.functional.normalize(z, dim=1).cpu().numpy()
        return out

    def _on_device(self, k: int, dev: str):
        """Projector ``k`` copied to ``dev`` once (``projectors_`` stay on the CPU for files)."""
        import copy

        cache = self.__dict__.setdefault("_device_copies", {})
        if cache.get(k, (None,))[0] is not self.projectors_[k]:
            cache[k] = (self.projectors_[k], copy.deepcopy(self.projectors_[k]).to(dev))
        return cache[k][1]

    def connected(self, space1, space2):
        """One EmbeddingSet of every row of both spaces in the connected space, for the widget.

        Keeps each row's modality, id (prefixed with its space name), label and item; adds the columns
        ``space`` (which space it came from) and ``source`` (``"<space>:<modality>"``) so the widget can colour
        by space and modality. ``space1`` / ``space2``: EmbeddingSet or ``{modality: array}``.
        """
        self._check_fitted()
        import pandas as pd

        from ..data.embeddings import EmbeddingSet

        parts = []
        for k, sp in enumerate((space1, space2)):
            name = self.spaces_[k]
            if hasattr(sp, "vectors") and hasattr(sp, "frame"):
                vec = self.transform(sp.vectors, sp.modality, space=k + 1)
                frame = sp.frame.copy()
            else:
                mods, _ = _split_space(sp, f"space{k + 1}")
                vec = np.concatenate([self.transform(v, m, space=k + 1) for m, v in mods.items()])
                frame = pd.DataFrame(
                    {
                        "id": [f"{m}-{i}" for m, v in mods.items() for i in range(len(v))],
                        "modality": [m for m, v in mods.items() for _ in range(len(v))],
                    }
                )
            frame["id"] = [f"{name}:{i}" for i in frame["id"]]
            frame["space"] = name
            frame["source"] = [f"{name}:{m}" for m in frame["modality"]]
            parts.append((vec, frame))
        vec = np.concatenate([v for v, _ in parts])
        frame = pd.concat([f for _, f in parts], ignore_index=True)
        base = frame[["id", "modality"]]
        extra = [c for c in frame.columns if c not in ("id", "modality", "label", "item")]
        return EmbeddingSet(
            vec,
            modality=base["modality"].tolist(),
            ids=base["id"].tolist(),
            labels=frame["label"].tolist() if "label" in frame else None,
            items=frame["item"].tolist() if "item" in frame else None,
            meta=frame[extra],
            space="+".join(self.spaces_),
        )

    # ------------------------------------------------------------------ evaluation
    def score(self, queries, keys, query_space=2, key_space=1, ks=(1, 5, 10)) -> dict[str, float]:
        """Recall@k of cross-space retrieval: row i of ``queries`` should find row i of ``keys``."""
        q = self.transform(queries, space=query_space)
        g = self.transform(keys, space=key_space)
        if len(q) != len(g):
            raise CMCRError(f"score: {len(q)} queries but {len(g)} keys; row i of both must be a true pair.")
        return _recall(q @ g.T, ks)

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """One ``.safetensors`` file: both projectors' weights + a JSON header (params, dims, names); atomic."""
        self._check_fitted()
        from safetensors.torch import save

        from ..io import atomic_write_bytes

        tensors = {}
        for k, p in enumerate(self.projectors_):
            for key, t in p.state_dict().items():
                tensors[f"p{k + 1}.{key}"] = t.detach().contiguous().clone()
        params = self.get_params()
        params["names"] = list(params["names"]) if params["names"] is not None else None
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "params": params,
            "spaces": list(self.spaces_),
            "dims": list(self.dims_),
            "modalities": [list(m) for m in self.modalities_],
            "memory_sizes": list(self.memory_sizes_),
            "n_pairs": self.n_pairs_,
            "history": self.history_,
            "train_s": self.train_s_,
        }
        path = Path(path)
        atomic_write_bytes(path, save(tensors, metadata={"cmcr": json.dumps(header)}))
        return path

    @classmethod
    def load(cls, path) -> CMCR:
        """Read a file written by ``save``; the result transforms exactly as the saved estimator did."""
        path = Path(path)
        if not path.exists():
            raise MissingFileError(f"no C-MCR file at {path}; write one with CMCR.save(path).")
        from safetensors import safe_open
        from safetensors.torch import load_file

        from ..safe_zip import read_regular_file, safetensors_header

        safetensors_header(read_regular_file(path)[: 8 + (64 << 20)], str(path))  # size and header checked first
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(path))
            header = json.loads(meta["cmcr"])
        except Exception as exc:
            raise CMCRError(f"{path} is not a readable C-MCR file ({type(exc).__name__}: {exc}).") from exc
        if header.get("format") != FORMAT:
            raise CMCRError(f"{path}: not a C-MCR file (format {header.get('format')!r}).")
        if header.get("version") != FORMAT_VERSION:
            raise CMCRError(
                f"{path}: C-MCR format version {header.get('version')} is not supported "
                f"(this version reads {FORMAT_VERSION}); upgrade modalchorus-widget."
            )
        from ..safe_zip import check_params as check_file_params

        params = check_file_params(header.get("params"), set(_PARAMS), str(path), "C-MCR")
        params["names"] = tuple(params["names"]) if params.get("names") is not None else None
        est = cls(**params)
        projs = []
        for k, d in enumerate(header["dims"]):
            p = _make_projector(d, est.out_dim, est.hidden, est.projector)
            p.load_state_dict({key[3:]: t for key, t in tensors.items() if key.startswith(f"p{k + 1}.")})
            p.eval()
            projs.append(p)
        est.projectors_ = tuple(projs)
        est.spaces_ = tuple(header["spaces"])
        est.dims_ = tuple(header["dims"])
        est.modalities_ = tuple(tuple(m) for m in header["modalities"])
        est.memory_sizes_ = tuple(header["memory_sizes"])
        est.n_pairs_ = header["n_pairs"]
        est.history_ = header["history"]
        est.train_s_ = header["train_s"]
        return est

    def __repr__(self) -> str:
        diff = {p: getattr(self, p) for p in _PARAMS if getattr(self, p) != _DEFAULTS[p]}
        return f"CMCR({', '.join(f'{k}={v!r}' for k, v in diff.items())})"


_DEFAULTS = {p: inspect.signature(CMCR.__init__).parameters[p].default for p in _PARAMS}


def connect(space1, space2, shared: str = "text", **params) -> CMCR:
    """Fit a ``CMCR`` connecting ``space1`` and ``space2`` through ``shared`` and return it.

    Parameters
    ----------
    space1, space2 : EmbeddingSet or dict
        The two spaces (as ``CMCR.fit`` takes them); both hold rows of ``shared``.
    shared : str, default "text"
        The modality both spaces embed (the other parameters, ``**params``, are ``CMCR``'s).

    Returns
    -------
    CMCR
        Fitted (``cm.connected(space1, space2)``: one EmbeddingSet for the widget).

    Examples
    --------
    >>> from modalchorus_widget.cmcr import connect, synthetic_spaces
    >>> d = synthetic_spaces(n_train=100, n_memory=100, n_test=10)
    >>> connect(d["space1"], d["space2"], n_epochs=2).modalities_
    (('text', 'image'), ('text', 'audio'))
    """
    return CMCR(shared=shared, **params).fit(space1, space2)
