"""Read and write IDX files, the format MNIST ships in, gzip-compressed or raw.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number
of dimensions), then one big-endian uint32 per dimension, then the data in C
order. Every field is checked, so a truncated, padded or foreign file fails
with one line that names the file and the fault, never a reshape traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from scratch.serialization import atomic_path

# IDX dtype code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_BY_DTYPE = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}


class IdxError(ValueError):
    """A malformed IDX file; the message names the file and the fault."""


def read_bytes(path: str | Path) -> bytes:
    """The decompressed content of `path` (gzip detected by its magic bytes, not its name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"{path}: file not found") from None
    except OSError as error:
        raise IdxError(f"{path}: cannot read ({error.strerror or error})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise IdxError(f"{path}: corrupt or truncated gzip data ({error})") from None


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def parse_idx(content: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into a native-endian array, validating every header field."""
    if len(content) < 4:
        raise IdxError(f"{name}: too short for an IDX header ({len(content)} bytes)")
    zero1, zero2, code, ndim = struct.unpack(">BBBB", content[:4])
    if zero1 or zero2:
        raise IdxError(f"{name}: bad magic number 0x{content[:4].hex()} (not an IDX file)")
    if code not in IDX_DTYPES:
        raise IdxError(f"{name}: unknown IDX dtype code 0x{code:02x}")
    if ndim == 0:
        raise IdxError(f"{name}: IDX header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IdxError(f"{name}: truncated header: {ndim} dimensions need {header_size} bytes")
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(content) - header_size
    if actual < expected:
        raise IdxError(
            f"{name}: truncated: header {shape} needs {expected} data bytes, found {actual}"
        )
    if actual > expected:
        raise IdxError(
            f"{name}: {actual - expected} trailing bytes after the {shape} data "
            "(padded or wrong file)"
        )
    data = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gz or raw) into a native-endian array."""
    path = Path(path)
    return parse_idx(read_bytes(path), name=str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of `array` (used by tests and for writing small datasets)."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_BY_DTYPE:
        raise IdxError(f"dtype {array.dtype} has no IDX code")
    code = _CODE_BY_DTYPE[native]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write `array` as IDX; gzip when `compress` or when the name ends in .gz."""
    path = Path(path)
    content = encode_idx(array)
    if compress or (compress is None and path.suffix == ".gz"):
        content = gzip.compress(content, mtime=0)
    with atomic_path(path) as temp:
        temp.write_bytes(content)
    return path
