"""Reading files from elsewhere: every loader of the package reads archives and blobs through here.

Session files, Aligner files and EmbeddingSet files are zip archives (``.npz`` is one too); MFM and C-MCR files
are safetensors blobs. A file from someone else may be hostile: a zip bomb (a few MB that inflate to many GB),
member names that point outside (``/etc/passwd``, ``../x``), a thousand-member directory, a pickled object in
an ``.npy``, a safetensors header that claims more than the file holds. ``SafeZip`` checks the directory
before anything is inflated (member count, each member's and the total declared size, names, compression
methods, encryption) and checks again while inflating (a member that inflates past its declared size is cut
off and refused), so refusing a 10 GB bomb costs no memory. ``npz_from_bytes`` reads ``.npz`` members as plain
arrays (no pickle; the header's shape must match the bytes). ``read_regular_file`` reads a single file after
checking it is a regular file under the size limit (``/dev/zero`` or a FIFO is refused, not read forever).

Every refusal raises ``UntrustedFileError`` saying why and how to proceed. The limits are module attributes:
raise ``MAX_BYTES`` / ``MAX_MEMBERS`` for a file you trust that is larger.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from .errors import UntrustedFileError

__all__ = [
    "MAX_BYTES",
    "MAX_MEMBERS",
    "MAX_JSON_BYTES",
    "SafeZip",
    "npz_from_bytes",
    "npy_from_bytes",
    "read_regular_file",
    "safetensors_header",
    "check_params",
]

MAX_BYTES = 8 * 2**30  # total inflated size of one archive (and the size of one plain file)
MAX_MEMBERS = 4096  # members of one archive (a session with 1,000 alignment rounds holds ~1,010)
MAX_JSON_BYTES = 64 * 2**20  # one manifest / header
_CHUNK = 1 << 20
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_HOW = "open it only if you trust where it came from"


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _raise_limit(name: str) -> str:
    return f"if you trust the file, raise modalchorus_widget.safe_zip.{name} and load it again"


def check_member_name(name: str, where: str) -> None:
    """Refuse absolute paths, ``..`` components, backslashes, drive letters and control characters."""
    bad = (
        not name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or any(ord(ch) < 32 for ch in name)
        or (len(name) > 1 and name[1] == ":")
        or ".." in PurePosixPath(name).parts
    )
    if bad:
        raise UntrustedFileError(
            f"{where}: refused: the archive holds a member named {name!r} (an absolute path or one that leaves "
            f"its folder), which no file written by modalchorus-widget does; {_HOW}, and save it again from "
            "the program that made it."
        )


class SafeZip:
    """A zip archive (a path or bytes) whose directory was checked; ``read(name)`` inflates one member with
    its size checked while streaming. Use as a context manager. ``zipfile.BadZipFile`` (not a zip at all,
    truncated) passes through so that each loader can word its own "corrupt file" error."""

    def __init__(self, source, where: str, max_bytes: int | None = None, max_members: int | None = None):
        self.where = where
        self.max_bytes = MAX_BYTES if max_bytes is None else int(max_bytes)
        max_members = MAX_MEMBERS if max_members is None else int(max_members)
        if isinstance(source, (bytes, bytearray, memoryview)):
            fobj = io.BytesIO(bytes(source))
        else:
            p = Path(source)
            _check_regular(p, where, self.max_bytes)
            fobj = open(p, "rb")  # noqa: SIM115 - closed by close()
        try:
            self._z = zipfile.ZipFile(fobj)
        except BaseException:
            fobj.close()
            raise
        self._fobj = fobj
        try:
            self._check_directory(max_members)
        except BaseException:
            self.close()
            raise

    def _check_directory(self, max_members: int) -> None:
        infos = self._z.infolist()
        if len(infos) > max_members:
            raise UntrustedFileError(
                f"{self.where}: refused: the archive lists {len(infos):,} members, more than the {max_members:,} "
                f"a modalchorus file can hold; {_raise_limit('MAX_MEMBERS')}."
            )
        seen, total = set(), 0
        for info in infos:
            check_member_name(info.filename, self.where)
            if info.filename in seen:
                raise UntrustedFileError(
                    f"{self.where}: refused: the member {info.filename!r} appears twice (which copy would be read "
                    f"is ambiguous); {_HOW}, and save it again."
                )
            seen.add(info.filename)
            if info.flag_bits & 0x1:
                raise UntrustedFileError(f"{self.where}: refused: {info.filename!r} is encrypted; {_HOW}.")
            if info.compress_type not in _METHODS:
                raise UntrustedFileError(
                    f"{self.where}: refused: {info.filename!r} uses compression method {info.compress_type}; "
                    "modalchorus files use only stored or deflate. Save it again with modalchorus-widget."
                )
            total += int(info.file_size)
            if total > self.max_bytes:
                raise UntrustedFileError(
                    f"{self.where}: refused before inflating: its members would inflate to more than "
                    f"{_size(self.max_bytes)} (a zip bomb, or a file larger than this limit); "
                    f"{_raise_limit('MAX_BYTES')}."
                )
        self._names = [i.filename for i in infos]
        self._left = self.max_bytes

    def names(self) -> list[str]:
        return list(self._names)

    def __contains__(self, name) -> bool:
        return name in self._names

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """The member ``name`` (KeyError when absent), inflated chunk by chunk: more than its declared size, the
        archive's remaining budget or ``max_bytes`` is refused as it streams."""
        info = self._z.getinfo(name)
        cap = min(int(info.file_size), self._left, self.max_bytes if max_bytes is None else int(max_bytes))
        if info.file_size > cap:
            raise UntrustedFileError(
                f"{self.where}: refused before inflating: {name!r} declares {info.file_size:,} bytes, more than "
                f"the {cap:,} allowed for it; {_raise_limit('MAX_BYTES')}."
            )
        out = bytearray()
        try:
            self._stream(info, name, cap, out)
        except zipfile.BadZipFile as exc:
            if "CRC" not in str(exc):
                raise
            raise UntrustedFileError(
                f"{self.where}: refused: {name!r} does not hold what its directory entry declares ({exc}; a "
                f"tampered archive, a lying zip bomb or a damaged copy); {_HOW}, and save it again."
            ) from exc
        self._left -= len(out)
        return bytes(out)

    def _stream(self, info, name, cap, out) -> None:
        with self._z.open(info) as f:
            while True:
                chunk = f.read(min(_CHUNK, cap + 1 - len(out)) or 1)
                if not chunk:
                    break
                out += chunk
                if len(out) > cap:
                    raise UntrustedFileError(
                        f"{self.where}: refused: {name!r} inflates past the {cap:,} bytes its directory declares "
                        f"(a zip bomb or a tampered archive); {_HOW}."
                    )

    def read_json(self, name: str):
        try:
            return json.loads(self.read(name, MAX_JSON_BYTES).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise zipfile.BadZipFile(f"{name} is not valid JSON ({exc})") from exc

    def close(self) -> None:
        self._z.close()
        self._fobj.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def npy_from_bytes(data: bytes, where: str) -> np.ndarray:
    """One ``.npy`` blob as an array: no object dtype (no pickle), and the header's shape must match the data."""
    from numpy.lib import format as npf

    f = io.BytesIO(data)
    try:
        version = npf.read_magic(f)
        read = npf.read_array_header_1_0 if version == (1, 0) else npf.read_array_header_2_0
        shape, fortran, dtype = read(f, max_header_size=10_000)
    except Exception as exc:  # not an .npy blob
        raise ValueError(f"{where}: not a numpy array ({exc})") from exc
    if dtype.hasobject:
        raise UntrustedFileError(
            f"{where}: refused: holds Python objects (dtype {dtype}), which would need pickle to read; "
            "modalchorus files hold plain numbers and text only. Save it again with modalchorus-widget."
        )
    count = 1
    for s in shape:
        count *= int(s)
    body = len(data) - f.tell()
    if count * dtype.itemsize != body:
        raise UntrustedFileError(
            f"{where}: refused: its header claims shape {shape} ({count * dtype.itemsize:,} bytes) but "
            f"{body:,} bytes follow; the file is tampered or truncated. Save it again."
        )
    a = np.frombuffer(data, dtype=dtype, count=count, offset=f.tell()).copy()
    return a.reshape(shape, order="F" if fortran else "C")


def npz_from_bytes(data: bytes, where: str, max_members: int | None = None) -> dict:
    """The arrays of a ``.npz`` blob by name (``name.npy`` -> ``name``), read through ``SafeZip``."""
    out = {}
    with SafeZip(data, where, max_members=max_members) as z:
        for name in z.names():
            key = name[:-4] if name.endswith(".npy") else name
            out[key] = npy_from_bytes(z.read(name), f"{where}:{name}")
    return out


def _check_regular(path: Path, where: str, max_bytes: int) -> int:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedFileError(
            f"{where}: refused: not a regular file (a device, a pipe or a folder); pass the path of a file "
            "written by modalchorus-widget."
        )
    if st.st_size > max_bytes:
        raise UntrustedFileError(
            f"{where}: refused: {_size(st.st_size)} is more than the {_size(max_bytes)} "
            f"limit; {_raise_limit('MAX_BYTES')}."
        )
    return st.st_size


def read_regular_file(path, where: str | None = None, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path`` once it is known to be a regular file within the size limit."""
    path = Path(path)
    _check_regular(path, where or str(path), MAX_BYTES if max_bytes is None else int(max_bytes))
    with open(path, "rb") as f:
        return f.read()


def safetensors_header(data: bytes, where: str) -> dict:
    """The JSON header of a safetensors blob, its claimed length checked against the blob first."""
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    n = int.from_bytes(bytes(data[:8]), "little")
    if n > min(len(data) - 8, MAX_JSON_BYTES):
        raise UntrustedFileError(
            f"{where}: refused: its header claims {n:,} bytes but the file holds {len(data) - 8:,} after it "
            "(truncated or tampered); save it again."
        )
    return json.loads(bytes(data[8 : 8 + n]))


def check_params(params, known, where: str, what: str) -> dict:
    """``params`` (from a file) as a dict whose names are all among ``known``; UntrustedFileError otherwise."""
    if not isinstance(params, dict):
        raise UntrustedFileError(f"{where}: refused: the {what} parameters are not a mapping; save the file again.")
    unknown = sorted(str(k) for k in set(params) - set(known))
    if unknown:
        raise UntrustedFileError(
            f"{where}: refused: unknown {what} parameter(s) {unknown} (not among {sorted(known)}); the file is "
            "from another version or was edited. Fit again and save, or upgrade modalchorus-widget."
        )
    return dict(params)


def os_path_inside(path, roots) -> bool:
    """True when ``path`` resolves (symlinks followed) inside one of the folders ``roots``."""
    try:
        real = Path(os.path.realpath(os.fspath(path)))
    except (TypeError, ValueError, OSError):
        return False
    for r in roots or ():
        root = Path(os.path.realpath(os.fspath(r)))
        if real == root or root in real.parents:
            return True
    return False
