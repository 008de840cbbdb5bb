"""IDX reading and writing on tiny synthetic files: round trips and every corruption case."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from compare.data import DataError, read_verified
from compare.idx import (
    IdxError,
    encode_idx,
    parse_idx,
    read_bytes,
    read_idx,
    sha256_hex,
    write_idx,
)

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]


def _sample(dtype: str, shape=(3, 4, 5)) -> np.ndarray:
    values = np.arange(np.prod(shape)).reshape(shape) - 7
    if dtype == "uint8":
        values = values % 256
    return (values * (1.5 if dtype.startswith("float") else 1)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", [".gz", ""])
def test_round_trip(tmp_path, dtype, suffix):
    array = _sample(dtype)
    path = write_idx(tmp_path / f"sample-idx3{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    assert list(tmp_path.iterdir()) == [path]  # the atomic write left no temp file


def test_header_is_big_endian_idx(tmp_path):
    content = encode_idx(np.zeros((2, 300), dtype=np.int16))
    assert content[:4] == bytes([0, 0, 0x0B, 2])
    assert struct.unpack(">2I", content[4:12]) == (2, 300)
    assert len(content) == 12 + 2 * 300 * 2


def test_gzip_detected_by_magic_not_name(tmp_path):
    array = _sample("uint8", (6,))
    path = tmp_path / "labels-without-suffix"
    path.write_bytes(gzip.compress(encode_idx(array)))
    np.testing.assert_array_equal(read_idx(path), array)


def test_one_dimensional_and_empty_arrays(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l.gz", labels)), labels)
    empty = np.zeros((0, 28, 28), dtype=np.uint8)
    assert read_idx(write_idx(tmp_path / "e", empty)).shape == (0, 28, 28)


def test_unsupported_dtype_cannot_be_written():
    with pytest.raises(IdxError, match="int64 has no IDX code"):
        encode_idx(np.zeros(3, dtype=np.int64))


GOOD = encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00", "too short for an IDX header (2 bytes)"),
        (b"\x01" + GOOD[1:], "bad magic number 0x01000803"),
        (b"PK\x03\x04" + GOOD[4:], "bad magic number 0x504b0304 (not an IDX file)"),
        (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX dtype code 0x0a"),
        (GOOD[:2] + b"\xff" + GOOD[3:], "unknown IDX dtype code 0xff"),
        (GOOD[:3] + b"\x00" + GOOD[4:], "declares zero dimensions"),
        (GOOD[:10], "truncated header: 3 dimensions need 16 bytes"),
        (GOOD[:-1], "truncated: header (2, 3, 4) needs 24 data bytes, found 23"),
        (GOOD + b"\x00\x00", "2 trailing bytes after the (2, 3, 4) data"),
        # dims that disagree with the data: 2x3x5 declared, 24 bytes present
        (GOOD[:12] + struct.pack(">I", 5) + GOOD[16:], "needs 30 data bytes, found 24"),
        # a wrong dtype code: int16 needs twice the bytes
        (GOOD[:2] + b"\x0b" + GOOD[3:], "needs 48 data bytes, found 24"),
    ],
)
def test_corrupt_content_names_the_fault(content, message):
    with pytest.raises(IdxError) as caught:
        parse_idx(content, name="f.idx")
    text = str(caught.value)
    assert text.startswith("f.idx: ") and message in text
    assert "\n" not in text


def test_corrupt_gzip_stream(tmp_path):
    packed = bytearray(gzip.compress(encode_idx(np.arange(4000, dtype=np.int32))))
    packed[len(packed) // 2] ^= 0xFF
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(IdxError, match=r"bad\.gz: corrupt or truncated gzip data \("):
        read_idx(path)


def test_gzip_crc_mismatch_is_one_line(tmp_path):
    packed = bytearray(gzip.compress(encode_idx(np.arange(100, dtype=np.uint8))))
    packed[-8] ^= 0x01  # the CRC32 field of the gzip trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(IdxError) as caught:
        read_bytes(path)
    assert "CRC check failed" in str(caught.value) and "\n" not in str(caught.value)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(encode_idx(np.arange(500, dtype=np.int16)))[:-20])
    with pytest.raises(IdxError, match="corrupt or truncated gzip data"):
        read_idx(path)


def test_missing_and_unreadable(tmp_path):
    with pytest.raises(IdxError, match="nope: file not found"):
        read_idx(tmp_path / "nope")
    with pytest.raises(IdxError, match="cannot read"):
        read_idx(tmp_path)  # a folder


def test_wrong_digest_is_reported_with_the_fix(tmp_path):
    labels = np.array([1, 2, 3], dtype=np.uint8)
    path = write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError) as caught:
        read_verified(path, "train-labels-idx1-ubyte", verify=True)
    digest = sha256_hex(encode_idx(labels))
    assert f"SHA-256 of the content is {digest[:16]}" in str(caught.value)
    assert "--no-verify" in str(caught.value)
    array, seen = read_verified(path, "train-labels-idx1-ubyte", verify=False)
    np.testing.assert_array_equal(array, labels)
    assert seen == digest
