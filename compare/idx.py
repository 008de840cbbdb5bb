"""Read and write IDX files, the format MNIST ships in, gzip-compressed or raw.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number
of dimensions), then one big-endian uint32 per dimension, then the data in C
order. Every field is checked, so a truncated, padded or foreign file fails
with one line that names the file and the fault, never a reshape traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import math
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


MAX_IDX_BYTES = 1 << 30  # MNIST's largest file is 47 MB; no IDX file we read needs more
CHUNK = 1 << 16


def read_bytes(path: str | Path) -> bytes:
    """The decompressed content of `path` (gzip detected by its magic bytes, not its name).

    Decompression stops just past the size the IDX header declares (at most
    MAX_IDX_BYTES), in bounded memory: a gzip bomb is refused, not inflated."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            if handle.read(2) != b"\x1f\x8b":
                handle.seek(0)
                return _read_plain(handle, path)
            handle.seek(0)
            return _gunzip_bounded(handle, path)
    except FileNotFoundError:
        raise IdxError(f"{path}: file not found") from None
    except OSError as error:
        raise IdxError(f"{path}: cannot read ({error.strerror or error})") from None
    except (EOFError, zlib.error) as error:
        reason = "CRC check failed" if "incorrect data check" in str(error) else str(error)
        raise IdxError(f"{path}: corrupt or truncated gzip data ({reason})") from None


def _read_plain(handle, path: Path) -> bytes:  # noqa: ANN001 - a binary file object
    content = handle.read(MAX_IDX_BYTES + 1)
    if len(content) > MAX_IDX_BYTES:
        raise IdxError(f"{path}: larger than {MAX_IDX_BYTES >> 20} MiB, too big for an IDX file")
    return content


def declared_size(prefix: bytes) -> int | None:
    """Header plus data bytes an IDX header at the start of `prefix` declares; None while
    the header is incomplete, 0 when it is no IDX header (parse_idx names the fault)."""
    if len(prefix) < 4:
        return None
    if prefix[0] or prefix[1] or prefix[2] not in IDX_DTYPES or prefix[3] == 0:
        return 0
    header_size = 4 + 4 * prefix[3]
    if len(prefix) < header_size:
        return None
    shape = struct.unpack(f">{prefix[3]}I", prefix[4:header_size])
    return header_size + math.prod(shape) * IDX_DTYPES[prefix[2]].itemsize


def _gunzip_bounded(handle, path: Path) -> bytes:  # noqa: ANN001 - a binary file object
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out, pending, limit = bytearray(), b"", 4 + 4 * 255
    while not inflater.eof:
        pending = pending or handle.read(CHUNK)
        if not pending:
            raise IdxError(f"{path}: corrupt or truncated gzip data (ends early)")
        out += inflater.decompress(pending, limit + 1 - len(out))
        pending = inflater.unconsumed_tail
        size = declared_size(bytes(out[: 4 + 4 * 255]))
        if size == 0:
            break  # not IDX: parse_idx says why
        if size is not None:
            if size > MAX_IDX_BYTES:
                raise IdxError(f"{path}: the IDX header declares {size} bytes, more than any "
                               f"IDX file we read ({MAX_IDX_BYTES >> 20} MiB)")  # fmt: skip
            limit = size
        if len(out) > limit:
            raise IdxError(f"{path}: decompresses to more than the {limit} bytes its IDX "
                           "header declares (a damaged or hostile file)")  # fmt: skip
    return bytes(out)


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
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no int64 overflow
    if expected > MAX_IDX_BYTES:
        raise IdxError(f"{name}: header {shape} declares {expected} data bytes; not an MNIST file")
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


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write `array` as IDX; gzip when the name ends in .gz."""
    path = Path(path)
    content = encode_idx(array)
    if path.suffix == ".gz":
        content = gzip.compress(content, mtime=0)
    with atomic_path(path) as temp:
        temp.write_bytes(content)
    return path
