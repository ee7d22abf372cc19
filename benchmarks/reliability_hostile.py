"""Files from elsewhere, made by hand: the ``HOSTILE_FILES`` table, ``run_hostile_file`` and ``write_zip_bomb``.

Each must be refused with ``UntrustedFileError`` (says why and how to proceed) before it is inflated or
executed, and the shared objects must stay as they were.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .reliability_context import FIX_WORDS, Ctx, diff, snapshot


# ------------------------------------------------------------------------------------------ hostile files
# Files from elsewhere, made by hand: each must be refused with UntrustedFileError (says why and how to
# proceed) before it is inflated or executed, and the shared objects must stay as they were.
def _zip(members: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name) if isinstance(name, str) else name, data)
    return buf.getvalue()


def _good_session(c) -> bytes:
    """A real session file of the shared Chorus, as bytes (made once)."""
    p = c.tmp / "good_hostile_base.mcsession"
    if not p.exists():
        c.chorus.save(p)
    return p.read_bytes()


def _members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _edited_session(c, **edits) -> bytes:
    """The good session with members replaced (value bytes) or removed (value None)."""
    m = _members(_good_session(c))
    for k, v in edits.items():
        k = k.replace("__", ".")
        if v is None:
            m.pop(k, None)
        else:
            m[k] = v
    return _zip(m)


def _manifest_edit(c, **fields) -> bytes:
    man = json.loads(_members(_good_session(c))["manifest.json"])
    man.update(fields)
    return _edited_session(c, manifest__json=json.dumps(man).encode())


def write_zip_bomb(path: Path, gib: float = 10.0, claim: int | None = None, name: str = "embeddings.npz") -> Path:
    """A zip whose one member really inflates to ``gib`` GiB of zeros (a deflate stream made of one repeated
    full-flushed block, so building it costs ~10 MB and a second); ``claim``: the size its directory states
    (default: the true one, zip64). The CRC is not that of the data: refusal must come before it is checked."""
    import struct
    import zlib

    block = 1 << 20
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = co.compress(bytes(block)) + co.flush(zlib.Z_FULL_FLUSH)
    n_blocks = int(gib * 1024)
    tail = co.flush()
    comp_size = len(piece) * n_blocks + len(tail)
    size = n_blocks * block if claim is None else int(claim)
    fname = name.encode()
    extra = struct.pack("<HHQQ", 1, 16, size, comp_size)
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(fname), len(extra)
    )
    with open(path, "wb") as f:
        f.write(local + fname + extra)
        for _ in range(n_blocks):
            f.write(piece)
        f.write(tail)
        cd_offset = f.tell()
        central = struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            45,
            45,
            0,
            8,
            0,
            0x21,
            0,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(fname),
            len(extra),
            0,
            0,
            0,
            0,
            0,
        )
        f.write(central + fname + extra)
        cd_size = f.tell() - cd_offset
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, cd_size, cd_offset, 0))
    return path


def _bomb_session(c, gib=0.05, claim=None) -> bytes:
    """A session whose manifest is fine and whose embeddings member is a bomb of ``gib`` GiB."""
    p = write_zip_bomb(c.tmp / "bomb_member.zip", gib=gib, claim=claim)
    with zipfile.ZipFile(p) as z:  # the raw bomb member copied into a zip with a good manifest
        raw_info = z.infolist()[0]
    data = p.read_bytes()
    man = _members(_good_session(c))["manifest.json"]
    # append manifest.json as a second member: rebuild the archive by hand from the bomb's bytes
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("manifest.json", man)
    del raw_info
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _lying_npz() -> bytes:
    """An .npz (valid zip, valid CRC) whose positions.npy header claims 9,999,999 rows but holds 4."""
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 2), np.float32), allow_pickle=False)
    npy = buf.getvalue().replace(b"(4, 2)", b"(9999999, 2)")
    return _zip({"positions.npy": npy}, zipfile.ZIP_STORED)


def _load_session_bytes(c, name: str, data: bytes):
    from modalchorus_widget.widget.chorus import Chorus

    return Chorus.load(c.file(name, data))


def _aligner_with(c, **meta_edits) -> bytes:
    p = c.tmp / "good_hostile.aligner"
    if not p.exists():
        c.aligner.save(p)
    m = _members(p.read_bytes())
    meta = json.loads(m["aligner.json"])
    meta.update(meta_edits)
    m["aligner.json"] = json.dumps(meta).encode()
    return _zip(m)


@dataclass(frozen=True)
class HostileFile:
    """One hostile file: ``make(ctx) -> bytes`` builds it, ``load(ctx, path)`` hands it to the loader."""

    name: str
    where: str
    make: Callable[[Ctx], bytes]
    load: Callable[[Ctx, Path], object]
    words: tuple = ()
    suffix: str = ".bin"
    limit: int | None = None  # safe_zip.MAX_BYTES while loading (a small bomb then stands for a big one)


def _as_session(c, p):
    from modalchorus_widget.widget.chorus import Chorus

    return Chorus.load(p)


def _as_aligner(c, p):
    from modalchorus_widget.alignment import Aligner

    return Aligner.load(p)


def _as_embeddings(c, p):
    from modalchorus_widget.data.embeddings import EmbeddingSet

    return EmbeddingSet.load(p)


def _as_mfm(c, p):
    from modalchorus_widget.projection.mfm import MFM

    return MFM.from_bytes(p.read_bytes(), str(p))


def _as_cmcr(c, p):
    from modalchorus_widget.cmcr.model import CMCR

    return CMCR.load(p)


def _mfm_edit(c, **param_edits) -> bytes:
    from safetensors.numpy import load, save

    data = c.mfm.to_bytes()
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["modalchorus"])
    meta["params"].update(param_edits)
    return save(load(data), metadata={"modalchorus": json.dumps(meta)})


def _safetensors_lying_header(c) -> bytes:
    data = c.mfm.to_bytes()
    return (10**12).to_bytes(8, "little") + data[8:]


def _cmcr_file(c, **param_edits) -> bytes:
    from safetensors.torch import save

    header = {"format": "modalchorus-cmcr", "version": 1, "params": {"evil": 1, **param_edits}}
    import torch

    return save({"p1.w": torch.zeros(2)}, metadata={"cmcr": json.dumps(header)})


H = HostileFile
HOSTILE_FILES: list[HostileFile] = [
    H(
        "zip bomb: 50 MiB of zeros in a 50 KB member, over a 16 MiB limit (the bench refuses a 10 GiB one)",
        "Chorus.load",
        lambda c: _bomb_session(c, gib=0.05),
        _as_session,
        ("before inflating",),
        ".mcsession",
        16 << 20,
    ),
    H(
        "zip bomb: directory lies (claims 1 KB, inflates to 50 MiB)",
        "Chorus.load",
        lambda c: _bomb_session(c, gib=0.05, claim=1000),
        _as_session,
        ("does not hold what",),
        ".mcsession",
    ),
    H(
        "absolute member name",
        "Chorus.load",
        lambda c: _edited_session(c, **{"/etc/passwd": b"x"}),
        _as_session,
        ("/etc/passwd",),
        ".mcsession",
    ),
    H(
        "member name with ..",
        "Chorus.load",
        lambda c: _edited_session(c, **{"../../evil.npz": b"x"}),
        _as_session,
        ("..",),
        ".mcsession",
    ),
    H(
        "5,000 members",
        "Chorus.load",
        lambda c: _zip({f"m{i}": b"" for i in range(5000)}),
        _as_session,
        ("5,000 members",),
        ".mcsession",
    ),
    H(
        "pickled object array in state.npz",
        "Chorus.load",
        lambda c: _edited_session(c, state__npz=_npz(positions=np.array([{"a": 1}], dtype=object))),
        _as_session,
        ("pickle",),
        ".mcsession",
    ),
    H(
        "npy header claims more rows than it holds",
        "Chorus.load",
        lambda c: _edited_session(c, state__npz=_lying_npz()),
        _as_session,
        ("claims",),
        ".mcsession",
    ),
    H(
        "unknown projector parameter in manifest",
        "Chorus.load",
        lambda c: _manifest_edit(c, projector={"name": "PCA", "params": {"__class__": "os.system"}}),
        _as_session,
        ("__class__",),
        ".mcsession",
    ),
    H(
        "unknown projection method in manifest",
        "Chorus.load",
        lambda c: _manifest_edit(c, projector={"name": "os.system", "params": {}}),
        _as_session,
        ("os.system",),
        ".mcsession",
    ),
    H(
        "manifest field of the wrong kind",
        "Chorus.load",
        lambda c: _manifest_edit(c, set_names="rm -rf"),
        _as_session,
        ("set_names",),
        ".mcsession",
    ),
    H(
        "manifest claims another point count",
        "Chorus.load",
        lambda c: _manifest_edit(c, n=7),
        _as_session,
        ("claims",),
        ".mcsession",
    ),
    H(
        "unknown Aligner parameter",
        "Aligner.load",
        lambda c: _aligner_with(c, params={"mode": "fast", "evil": 1}),
        _as_aligner,
        ("evil",),
        ".aligner",
    ),
    H(
        "zip bomb as an Aligner file",
        "Aligner.load",
        lambda c: write_zip_bomb(c.tmp / "b.aligner", gib=0.05, name="aligner.json").read_bytes(),
        _as_aligner,
        ("before inflating",),
        ".aligner",
        16 << 20,
    ),
    H(
        "zip bomb as an EmbeddingSet file",
        "EmbeddingSet.load",
        lambda c: write_zip_bomb(c.tmp / "b.npz", gib=0.05, claim=100, name="vectors.npy").read_bytes(),
        _as_embeddings,
        ("does not hold what",),
        ".npz",
    ),
    H(
        "pickled vectors in an EmbeddingSet file",
        "EmbeddingSet.load",
        lambda c: _npz(vectors=np.array([None, 1], dtype=object), header=np.zeros(2, np.uint8)),
        _as_embeddings,
        ("pickle",),
        ".npz",
    ),
    H("unknown MFM parameter", "MFM.from_bytes", lambda c: _mfm_edit(c, evil=1), _as_mfm, ("evil",), ".safetensors"),
    H(
        "MFM hidden layer of 10^9 units",
        "MFM.from_bytes",
        lambda c: _mfm_edit(c, hidden=[10**9]),
        _as_mfm,
        ("layer sizes",),
        ".safetensors",
    ),
    H(
        "safetensors header longer than the file",
        "MFM.from_bytes",
        _safetensors_lying_header,
        _as_mfm,
        ("header claims",),
        ".safetensors",
    ),
    H("unknown C-MCR parameter", "CMCR.load", lambda c: _cmcr_file(c), _as_cmcr, ("evil",), ".safetensors"),
]
del H


@contextlib.contextmanager
def byte_limit(limit):
    """``safe_zip.MAX_BYTES`` (the documented knob) set to ``limit`` for the block (None: unchanged)."""
    from modalchorus_widget import safe_zip

    old = safe_zip.MAX_BYTES
    safe_zip.MAX_BYTES = old if limit is None else int(limit)
    try:
        yield
    finally:
        safe_zip.MAX_BYTES = old


@dataclass
class HostileOutcome:
    name: str
    where: str
    raised: str | None
    message: str
    refused: bool
    state_changed: list = field(default_factory=list)


def run_hostile_file(case: HostileFile, ctx: Ctx) -> HostileOutcome:
    from modalchorus_widget.errors import UntrustedFileError

    ctx.build(("chorus",))
    data = case.make(ctx)
    path = ctx.file("hostile" + case.suffix, data)
    before = snapshot(ctx)
    raised, msg, refused = None, "", False
    try:
        with byte_limit(case.limit):
            case.load(ctx, path)
    except Exception as exc:  # noqa: BLE001 - classified below
        raised, msg = type(exc).__name__, str(exc)
        low = msg.lower()
        refused = (
            isinstance(exc, UntrustedFileError)
            and all(w.lower() in low for w in case.words)
            and any(w in low for w in FIX_WORDS + ("trust", "raise"))
        )
    return HostileOutcome(case.name, case.where, raised, msg, refused, diff(before, snapshot(ctx)))
