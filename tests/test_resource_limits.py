"""Issue 16, resource limits: a gzip bomb among the MNIST files is refused in bounded
memory (compare/idx.py); `predict` decodes a huge image at reduced size, and libpng's
and OpenCV's own complaints about a damaged file do not reach the terminal beside the
tool's one-line message (compare/digits.py)."""

from __future__ import annotations

import resource
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from compare import digits
from compare.cli import main
from compare.digits import DigitError


def gzip_bomb(path: Path, header: bytes, total: int) -> None:
    """A .gz of `header` and then zeros, `total` bytes in all: one MiB of zeros is
    deflated once, full-flushed (so the block stands alone) and its bytes repeated. The
    trailer's CRC is left 0 (4 s to compute): a reader must stop long before it."""
    mib = 1 << 20
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(bytes(mib)) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeats = (total - len(header)) // mib
    size = len(header) + repeats * mib
    with path.open("wb") as handle:
        handle.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head)
        for _ in range(repeats):
            handle.write(block)
        handle.write(deflate.flush(zlib.Z_FINISH) + struct.pack("<II", 0, size % 2**32))


@pytest.mark.mnist
def test_a_2_mb_gzip_bomb_of_2_gib_is_refused_past_its_header_size(mnist_dir, tmp_path, capsys):
    """MNIST's training-image header (60,000 x 28 x 28: 47 MB), then 2 GiB of zeros, in
    a 2 MB file: refused once 47 MB are inflated. It took 18 s and 4.3 GB before."""
    header = bytes([0, 0, 8, 3]) + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz", header, 2 << 30)
    assert (tmp_path / "train-images-idx3-ubyte.gz").stat().st_size < 2_200_000
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):  # fmt: skip
        (tmp_path / name).symlink_to(mnist_dir / name)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["data", "--data-dir", str(tmp_path), "--no-verify"]) == 2
    err = capsys.readouterr().err
    assert "decompresses to more than the 47040016 bytes its IDX header declares" in err
    assert err.count("\n") == 1
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200  # the 47 MB it may need, twice at most; never the 2 GiB


def test_a_49_megapixel_16_bit_png_is_decoded_at_a_quarter(tmp_path):
    """It took 45 s and 1.2 GB decoded whole; at 1/4 it is 1750x1750 (docs/predict.md)."""
    image = np.full((7000, 7000), 60000, np.uint16)  # light paper, 16-bit
    cv2.circle(image, (3500, 3500), 2000, 3000, thickness=400)  # a dark "0"
    path = tmp_path / "huge.png"
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    decoded, scale = digits.read_image(path)
    assert scale == 4 and decoded.shape == (1750, 1750) and decoded.dtype == np.uint16
    frame = digits.preprocess_digit(decoded).reshape(28, 28)
    assert frame.max() == pytest.approx(1.0) and frame[14, 14] == 0.0  # a ring, hollow


@pytest.fixture
def digit_png(mnist) -> bytes:
    """A real MNIST test digit, dark on light, enlarged to 1000x1000 pixels."""
    big = cv2.resize(255 - mnist.test_images[3], (1000, 1000), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".png", big)[1].tobytes()


@pytest.mark.mnist
def test_reduced_decoding_gives_the_network_the_same_input(digit_png, monkeypatch):
    monkeypatch.setattr(digits, "REDUCE_ABOVE", 100_000)  # 1000x1000 counts as big
    reduced, scale = digits.decode_image(digit_png, "digit.png")
    whole, _ = digits.decode_image(digit_png, "digit.png", scale=1)
    assert scale == 4 and reduced.shape == (250, 250) and whole.shape == (1000, 1000)
    difference = digits.preprocess_digit(reduced) - digits.preprocess_digit(whole)
    assert np.abs(difference).max() < 0.1  # measured 0.037 at most over five digits


def test_an_image_with_alpha_is_decoded_whole(monkeypatch):
    """OpenCV's reduced modes drop alpha, which a transparent drawing needs."""
    monkeypatch.setattr(digits, "REDUCE_ABOVE", 100_000)
    drawing = np.zeros((600, 600, 4), np.uint8)
    cv2.circle(drawing, (300, 300), 150, (0, 0, 0, 255), thickness=40)  # black on clear
    image, scale = digits.decode_image(cv2.imencode(".png", drawing)[1].tobytes(), "a.png")
    assert scale == 1 and image.shape == (600, 600, 4)
    assert digits.preprocess_digit(image).max() == pytest.approx(1.0)


def damaged_pngs() -> dict[str, bytes]:
    image = np.zeros((64, 64), np.uint8)
    cv2.circle(image, (32, 32), 20, 255, 4)
    png = cv2.imencode(".png", image)[1].tobytes()
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # IHDR's CRC
    bad_data = bytearray(png)
    bad_data[png.index(b"IDAT") + 10] ^= 0xFF
    return {"truncated": png[: len(png) // 2], "bad-crc": bytes(bad_crc), "bad-data": bad_data}


@pytest.mark.parametrize("kind", ["truncated", "bad-crc", "bad-data"])
def test_libpng_and_opencv_say_nothing_on_stderr(kind, tmp_path, capfd):
    """They wrote "libpng error: IHDR: CRC error" or "[ WARN:0@0.19] global
    grfmt_png.cpp:793 ... PNG input buffer is incomplete" from C, on file descriptor 2."""
    path = tmp_path / f"{kind}.png"
    path.write_bytes(bytes(damaged_pngs()[kind]))
    with pytest.raises(DigitError, match="not an image OpenCV can read"):
        digits.read_image(path)
    assert capfd.readouterr().err == ""


def test_a_test_split_of_no_images_is_one_line_before_training(tmp_path, capsys):
    """With --no-verify any IDX dataset goes: an empty test split was a traceback after
    training ("empty batch: x and y hold no samples")."""
    from compare.idx import write_idx

    data = tmp_path / "data"
    data.mkdir()
    write_idx(data / "train-images-idx3-ubyte.gz", np.zeros((50, 28, 28), np.uint8))
    write_idx(data / "train-labels-idx1-ubyte.gz", np.arange(50, dtype=np.uint8) % 10)
    write_idx(data / "t10k-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(data / "t10k-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    out = tmp_path / "run"
    argv = ["run", "--data-dir", str(data), "--no-verify", "--models", "scratch", "--quiet"]
    assert main([*argv, "--val-size", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the test split holds no images" in err
    assert not out.exists()


def test_an_image_pillow_calls_a_bomb_has_too_many_pixels(tmp_path):
    """Over twice Pillow's own limit its header read raises; the message was "image is
    too many pixels"."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)  # 400 megapixels
    path = tmp_path / "bomb.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")
    )
    with pytest.raises(DigitError, match="bomb.png: image has too many pixels, over the 50"):
        digits.read_image(path)
