"""Turn a photo or scan of one handwritten digit into an MNIST-like 28x28 input.

The networks only ever saw MNIST: light ink on a black (exactly 0) background,
the digit scaled so its longer side is 20 pixels, placed in a 28x28 frame with
its centre of mass at pixel (14, 14), grey levels in [0, 1] with the darkest
stroke core at 1. `preprocess_digit` rebuilds exactly that from any common image
so that both models see the same thing they were trained on:

1. read PNG/JPEG/BMP/... with OpenCV, keeping alpha and 16-bit depth; refuse
   enormous images from the header, before decoding; decode an image of more than
   REDUCE_ABOVE pixels at 1/2, 1/4 or 1/8 of its size, in gray (unless it has alpha:
   OpenCV's reduced modes drop it, and a transparent drawing needs it), with libpng's
   and OpenCV's own complaints about a damaged file kept off the terminal;
2. grayscale in [0, 1] (alpha composited onto a contrasting background);
3. decide the ink polarity (border median vs overall mean) and invert
   dark-on-light images, because MNIST is light ink on dark;
4. subtract the background level, so paper becomes 0 as in MNIST;
5. blur + Otsu threshold + connected components, ONLY to find the digit (specks
   ignored); the output keeps the original grey levels;
6. crop to the digit's bounding box, scale the longer side to 20 pixels keeping
   the aspect ratio (INTER_AREA when shrinking);
7. paste in a 28x28 frame and shift so the centre of mass is at (14, 14);
8. stretch the contrast so the ink maximum is 1, as in MNIST (/255 of 255).

The standardization of a run (`(x - mean) / std`) is applied afterwards by the
caller (`compare.predict`), because it belongs to the run, not to the image.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np

# OpenCV refuses images above this many pixels from their header (belt and braces:
# we check the header ourselves first). Must be set before cv2 reads its config.
MAX_PIXELS = 50_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))

import cv2  # noqa: E402

from scratch.quiet import stderr_captured  # noqa: E402

# Above this many pixels an image is decoded at 1/2, 1/4 or 1/8 of its size: a 28x28
# input needs no more, and the preprocessing of a 49-megapixel image took 45 s and 1 GB.
REDUCE_ABOVE = 4_000_000
REDUCED_GRAY = {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                8: cv2.IMREAD_REDUCED_GRAYSCALE_8}  # fmt: skip

FRAME = 28  # MNIST frame side
BOX = 20  # MNIST digits are scaled so their longer side is 20 pixels
CENTRE = 14.0  # MNIST centre of mass (row, column), measured: 13.99, 14.00
MIN_CONTRAST = 0.08  # ink must stand out from the paper by ~20 of 255 grey levels
SPECK_FRACTION = 0.1  # components smaller than this share of the largest are specks


class DigitError(ValueError):
    """An image we cannot turn into a digit; the message is one line that says why."""


def preprocess_digit(image_or_path: str | Path | np.ndarray) -> np.ndarray:
    """An image (path or array as cv2 reads it) -> (784,) float32 in [0, 1], MNIST-like."""
    image = read_image(image_or_path)[0] if isinstance(image_or_path, str | Path) else image_or_path
    frame = to_mnist_frame(to_gray(np.asarray(image)))  # (28, 28)
    return frame.reshape(-1)


def to_mnist_frame(gray: np.ndarray) -> np.ndarray:
    """Grayscale in [0, 1] (any polarity) -> (28, 28) float32 MNIST-like frame."""
    ink = normalize_polarity(gray)
    mask = digit_mask(ink)
    top, bottom, left, right = bounding_box(mask)
    # Keep the grey levels, but only on (and just around) the digit's strokes, so
    # specks inside the bounding box and the paper's noise stay 0 as in MNIST.
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=_pad(mask))
    digit = np.where(near > 0, ink, 0.0)[top:bottom, left:right]
    return stretch_contrast(center_by_mass(scale_to_box(digit)))


def read_image(path: str | Path) -> tuple[np.ndarray, int]:
    """`decode_image` of a file; one-line `DigitError` if we can't."""
    path = Path(path)
    if not path.exists():
        raise DigitError(f"{path}: no such file")
    if not path.is_file():
        raise DigitError(f"{path}: not a file")
    scale = decoding_scale(path, path)
    data = np.fromfile(path, dtype=np.uint8)  # also works for non-ASCII paths
    return decode_image(data, path, scale=scale)


def decode_image(
    data: bytes | np.ndarray, name: str | Path, *, scale: int | None = None
) -> tuple[np.ndarray, int]:
    """Decode an image file's bytes (a file read by `read_image`, or an upload): (the
    image, the scale it was decoded at: 1 as stored, alpha and 16-bit kept; 2, 4 or 8
    for a big image, reduced, in gray). The same pixel limit and one-line `DigitError`s,
    naming the image `name`; `scale` when the header was read already."""
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    if data.size == 0:
        raise DigitError(f"{name}: the file is empty; give a PNG, JPEG or BMP image")
    if scale is None:
        scale = decoding_scale(io.BytesIO(data.tobytes()), name)
    flags = cv2.IMREAD_UNCHANGED if scale == 1 else REDUCED_GRAY[scale] | cv2.IMREAD_ANYDEPTH
    with stderr_captured(replay=False):  # libpng's "CRC error", OpenCV's "[ WARN ]"
        image = cv2.imdecode(data, flags)
    if image is None:
        raise DigitError(f"{name}: not an image OpenCV can read; give a PNG, JPEG or BMP image")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:  # a format the header check missed
        raise DigitError(_too_large(name, image.shape[1], image.shape[0]))
    if image.size == 0:
        raise DigitError(f"{name}: the image has no pixels")
    return image, scale


def decoding_scale(source: Path | BinaryIO, name: str | Path) -> int:
    """From the header alone, before decoding: refuse images over MAX_PIXELS; the scale
    to decode at (1; or 2, 4, 8 above REDUCE_ABOVE pixels when there is no alpha).

    Pillow (installed with matplotlib) reads only the header on `open` (of a path or an
    in-memory file). Files it does not recognise are decoded as stored by OpenCV, which
    then applies the same limit.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's own "decompression bomb" warning
            with Image.open(source) as header:
                (width, height), mode, info = header.size, header.mode, header.info
    except Image.DecompressionBombError:
        raise DigitError(_too_large(name, None, None)) from None
    except (UnidentifiedImageError, OSError, ValueError):
        return 1
    if width * height > MAX_PIXELS:
        raise DigitError(_too_large(name, width, height))
    if width * height <= REDUCE_ABOVE or "A" in mode or "transparency" in info:
        return 1
    return next((s for s in (2, 4) if width * height <= REDUCE_ABOVE * s * s), 8)


def _too_large(path: str | Path, width: int | None, height: int | None) -> str:
    size = f"is {width}x{height} pixels" if width else "has too many pixels"
    return (
        f"{path}: image {size}, over the {MAX_PIXELS // 1_000_000} megapixel limit; "
        "crop or shrink it to the digit"
    )


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any OpenCV image (gray, BGR, BGRA; 8/16-bit or float) -> float32 gray in [0, 1]."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise DigitError(f"unsupported image shape {image.shape}; give a gray or colour image")
    values = _to_unit(image)
    if values.ndim == 2:
        return values
    gray = cv2.cvtColor(np.ascontiguousarray(values[:, :, :3]), cv2.COLOR_BGR2GRAY)
    if values.shape[2] == 4:
        gray = _composite_alpha(gray, values[:, :, 3])
    return gray


def _to_unit(image: np.ndarray) -> np.ndarray:
    """Integer images divided by their type's maximum (255, 65535); floats clipped."""
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
    return np.clip(np.nan_to_num(image.astype(np.float32)), 0.0, 1.0)


def _composite_alpha(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Lay a transparent drawing on paper of the contrasting colour.

    Drawing apps save strokes as opaque pixels on a transparent background whose
    colour is arbitrary (often black, the same as black ink). The paper we use
    is white under dark strokes and black under light ones, so the ink shows.
    """
    if float(alpha.min()) >= 1.0:
        return gray
    weight = float(alpha.sum())
    stroke_level = float((gray * alpha).sum() / weight) if weight > 0 else 0.0
    paper = 1.0 if stroke_level < 0.5 else 0.0
    return (alpha * gray + (1.0 - alpha) * paper).astype(np.float32)


def border_pixels(gray: np.ndarray) -> np.ndarray:
    """The outer ring (5% of each side, at least one pixel): mostly paper."""
    h, w = gray.shape
    dy, dx = max(1, h // 20), max(1, w // 20)
    ring = np.ones_like(gray, dtype=bool)
    ring[dy : h - dy, dx : w - dx] = False
    return gray[ring]


def is_dark_on_light(gray: np.ndarray) -> bool:
    """True when the ink is darker than the paper.

    The border is mostly paper, so its median is the paper's level; the ink
    pulls the overall mean away from it, darker or lighter.
    """
    return float(np.median(border_pixels(gray))) > float(gray.mean())


def normalize_polarity(gray: np.ndarray) -> np.ndarray:
    """Light ink on a 0 background, as MNIST: invert if needed, subtract the paper level."""
    ink = 1.0 - gray if is_dark_on_light(gray) else gray
    paper = float(np.median(border_pixels(ink)))
    return np.clip(ink - paper, 0.0, 1.0).astype(np.float32)


def digit_mask(ink: np.ndarray) -> np.ndarray:
    """Boolean mask of the digit's strokes: blur, Otsu, keep the big components.

    Blurring (kernel ~1% of the image) removes sensor and JPEG noise, Otsu picks
    the ink/paper threshold, and connected components smaller than
    SPECK_FRACTION of the largest are dust, not digit. Raises `DigitError` when
    there is no ink.
    """
    sigma = max(1.0, max(ink.shape) / 150.0)
    smooth = cv2.GaussianBlur(ink, (0, 0), sigma)
    if float(smooth.max()) < MIN_CONTRAST:
        raise DigitError("no ink found: the image is blank or has too little contrast")
    levels = np.round(smooth / float(smooth.max()) * 255.0).astype(np.uint8)
    _, binary = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the background
    if count <= 1:
        raise DigitError("no ink found: the image is blank or has too little contrast")
    keep = 1 + np.flatnonzero(areas >= SPECK_FRACTION * areas.max())
    return np.isin(labels, keep)


def _pad(mask: np.ndarray) -> int:
    """Dilation steps that cover a stroke's soft edge the threshold cut off."""
    return max(1, round(max(mask.shape) / 150.0))


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the True pixels, bottom/right exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise DigitError("no ink found: the image is blank or has too little contrast")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def scale_to_box(digit: np.ndarray) -> np.ndarray:
    """Resize so the longer side is BOX (20) pixels, keeping the aspect ratio.

    INTER_AREA averages when shrinking (no aliasing of thin strokes); cubic when
    enlarging a tiny drawing, clipped back to [0, 1].
    """
    h, w = digit.shape
    factor = BOX / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))  # cv2 wants (width, height)
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(digit, size, interpolation=method), 0.0, 1.0)


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass of the grey levels."""
    total = float(image.sum())
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def center_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place in a FRAME x FRAME (28x28) image with the centre of mass at (14, 14), as LeCun did.

    The digit is pasted in the middle first, then shifted by a sub-pixel
    translation (bilinear), so the centre of mass lands exactly on MNIST's.
    """
    h, w = digit.shape
    canvas = np.zeros((FRAME, FRAME), np.float32)
    top, left = (FRAME - h) // 2, (FRAME - w) // 2
    canvas[top : top + h, left : left + w] = digit
    row, col = center_of_mass(canvas)
    shift = np.float32([[1, 0, CENTRE - col], [0, 1, CENTRE - row]])
    return cv2.warpAffine(canvas, shift, (FRAME, FRAME), flags=cv2.INTER_LINEAR)


def stretch_contrast(frame: np.ndarray) -> np.ndarray:
    """Scale so the brightest ink is 1: MNIST strokes peak at 255 (/255 = 1)."""
    peak = float(frame.max())
    if peak <= 0:
        raise DigitError("no ink found: the image is blank or has too little contrast")
    return np.clip(frame / peak, 0.0, 1.0).astype(np.float32)
