"""Unit tests of the MNIST-style preprocessing (compare.digits) on synthetic images."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from compare import digits
from compare.digits import DigitError, preprocess_digit


def drawn_digit(text: str = "7", size: tuple[int, int] = (300, 400), at=(60, 250)) -> np.ndarray:
    """Black ink on white paper, drawn off-centre with cv2.putText: (h, w) uint8."""
    paper = np.full(size, 255, np.uint8)
    cv2.putText(paper, text, at, cv2.FONT_HERSHEY_SIMPLEX, 6, 0, 18, cv2.LINE_AA)
    return paper


def test_polarity_dark_ink_on_light_paper_is_inverted():
    gray = np.full((50, 60), 0.9, np.float32)
    gray[20:30, 25:35] = 0.1  # dark ink
    assert digits.is_dark_on_light(gray)
    ink = digits.normalize_polarity(gray)
    assert ink[0, 0] == pytest.approx(0.0)  # paper -> 0 as in MNIST
    assert ink[25, 30] == pytest.approx(0.8)  # ink light, minus the paper level


def test_polarity_light_ink_on_dark_is_kept():
    gray = np.full((50, 60), 0.2, np.float32)
    gray[20:30, 25:35] = 0.95
    assert not digits.is_dark_on_light(gray)
    ink = digits.normalize_polarity(gray)
    assert ink[0, 0] == pytest.approx(0.0)
    assert ink[25, 30] == pytest.approx(0.75)


def test_bounding_box_is_tight_and_exclusive():
    mask = np.zeros((40, 50), bool)
    mask[5:12, 30:41] = True
    assert digits.bounding_box(mask) == (5, 12, 30, 41)


@pytest.mark.parametrize(
    ("shape", "expected"), [((100, 50), (20, 10)), ((40, 200), (4, 20)), ((5, 3), (20, 12))]
)
def test_scale_to_box_longer_side_is_20_keeping_aspect(shape, expected):
    scaled = digits.scale_to_box(np.ones(shape, np.float32))
    assert scaled.shape == expected
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0


def test_preprocess_centres_mass_at_14_14_and_fits_20_pixels():
    x = preprocess_digit(drawn_digit("7"))
    assert x.shape == (784,) and x.dtype == np.float32
    frame = x.reshape(28, 28)
    row, col = digits.center_of_mass(frame)
    assert abs(row - 14) < 1 and abs(col - 14) < 1
    assert frame.max() == pytest.approx(1.0) and frame.min() >= 0.0
    top, bottom, left, right = digits.bounding_box(frame > 0.05)
    assert max(bottom - top, right - left) in range(19, 23)  # 20 plus interpolation fringe
    assert frame[0].max() == 0 and frame[:, 0].max() == 0  # background is 0, as MNIST


def test_polarity_does_not_change_the_result():
    dark_on_light = preprocess_digit(drawn_digit("4"))
    light_on_dark = preprocess_digit(255 - drawn_digit("4"))
    np.testing.assert_allclose(dark_on_light, light_on_dark, atol=1e-5)


def test_specks_are_ignored():
    clean = drawn_digit("2")
    dirty = clean.copy()
    for y, x in [(10, 10), (280, 20), (15, 380), (270, 390)]:
        cv2.circle(dirty, (x, y), 3, 0, -1)  # dust in the four corners
    np.testing.assert_allclose(preprocess_digit(dirty), preprocess_digit(clean), atol=1e-5)


def test_grey_levels_are_kept_not_binarized():
    frame = preprocess_digit(drawn_digit("3")).reshape(28, 28)
    strokes = frame[frame > 0]
    assert np.mean((strokes > 0.05) & (strokes < 0.95)) > 0.2  # soft edges survive


@pytest.mark.parametrize("level", [0, 128, 255])
def test_blank_image_is_an_error(level):
    with pytest.raises(DigitError, match="no ink found"):
        preprocess_digit(np.full((100, 100), level, np.uint8))


def test_noisy_blank_image_is_an_error():
    noise = np.random.default_rng(0).normal(200, 6, (200, 200))
    with pytest.raises(DigitError, match="no ink found"):
        preprocess_digit(np.clip(noise, 0, 255).astype(np.uint8))


def test_colour_alpha_and_16_bit_give_the_same_input():
    gray = drawn_digit("5")
    reference = preprocess_digit(gray)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    np.testing.assert_allclose(preprocess_digit(bgr), reference, atol=1e-5)
    # A drawing app: black strokes on a fully transparent *black* background.
    bgra = np.zeros((*gray.shape, 4), np.uint8)
    bgra[:, :, 3] = 255 - gray
    np.testing.assert_allclose(preprocess_digit(bgra), reference, atol=1e-5)
    sixteen = gray.astype(np.uint16) * 257
    np.testing.assert_allclose(preprocess_digit(sixteen), reference, atol=1e-5)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp"])
def test_reads_common_formats(tmp_path, suffix):
    path = tmp_path / f"seven{suffix}"
    assert cv2.imwrite(str(path), drawn_digit("7"))
    x = preprocess_digit(path)
    np.testing.assert_allclose(x, preprocess_digit(drawn_digit("7")), atol=0.08)


def test_reads_16_bit_png_with_alpha(tmp_path):
    gray = drawn_digit("9").astype(np.uint16) * 257
    bgra = np.dstack([gray, gray, gray, np.full_like(gray, 65535)])
    path = tmp_path / "nine16.png"
    assert cv2.imwrite(str(path), bgra)
    assert digits.read_image(path)[0].dtype == np.uint16
    np.testing.assert_allclose(
        preprocess_digit(path), preprocess_digit(drawn_digit("9")), atol=1e-4
    )


def test_missing_file_and_non_image(tmp_path):
    with pytest.raises(DigitError, match="no such file"):
        preprocess_digit(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    with pytest.raises(DigitError, match="not an image"):
        preprocess_digit(text)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(DigitError, match="empty"):
        preprocess_digit(empty)


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height, with no pixel data (a 'bomb' stand-in)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_enormous_image_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.png"
    png_header_only(path, 10_000, 8_000)  # 80 megapixels claimed, a few bytes on disk
    with pytest.raises(DigitError, match="10000x8000 pixels, over the 50 megapixel limit"):
        digits.read_image(path)
