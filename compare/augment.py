"""Random distortions of the training images, made in the shared pipeline.

With `[data] shift`, `rotate` and `zoom` (`--shift PIXELS --rotate DEGREES --zoom
FRACTION`), every training image of every batch is moved by its own random amount
from -shift to shift pixels down and across, turned by a random angle from -rotate to
rotate degrees and scaled by a random factor from 1 - zoom to 1 + zoom, all about the
image's centre, before any model sees it; pixels brought in from outside the image are
blank. A network then learns that a digit a little lower, tilted or larger is the same
digit: LeNet-5's 1998 paper trained on such distorted digits, and unlike dropout's
masks the distortions can be shared by every model.

They are drawn once per batch, in the training loop, and every model gets the very
same distorted array, so lockstep stays exact. They are a function of (seed, epoch,
batch) alone: `numpy.random.default_rng((seed, epoch, batch))` draws them, so each
model's worker process, a repeated run or a test makes the same ones. Validation and
test images are never distorted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDE = 28  # MNIST images are 28 x 28
CENTRE = (SIDE - 1) / 2  # 13.5: the middle of the image, between pixels 13 and 14
MAX_SHIFT = SIDE // 2  # pixels; a larger move can take most of a digit off the image
MAX_ROTATE = 180.0  # degrees
MAX_ZOOM = 0.5  # scale factors from 0.5 to 1.5 at most
CHUNK = 1024  # images distorted at once (a slice peaks at 84 MB, docs/data.md)


@dataclass(frozen=True)
class Distortions:
    """How far each training image may be moved (pixels), turned (degrees) and scaled
    (a fraction): the run config's `[data]` shift, rotate and zoom."""

    shift: float = 0.0
    rotate: float = 0.0
    zoom: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.shift or self.rotate or self.zoom)

    def describe(self) -> str:
        """e.g. 'each training image moved up to 2 pixels in each direction, turned up to
        10 degrees and scaled by 0.9 to 1.1 at random' ('' without distortions)."""
        pixels = "pixel" if f"{self.shift:g}" == "1" else "pixels"
        parts = [f"moved up to {self.shift:g} {pixels} in each direction"] if self.shift else []
        parts += [f"turned up to {self.rotate:g} degrees"] if self.rotate else []
        parts += [f"scaled by {1 - self.zoom:g} to {1 + self.zoom:g}"] if self.zoom else []
        if not parts:
            return ""
        listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
        return f"each training image {listed} at random"

    def batch(
        self, x: np.ndarray, seed: int, epoch: int, batch: int, background: float = 0.0
    ) -> np.ndarray:
        """Batch `batch` (0-based) of epoch `epoch` (0-based), distorted: a new (n, 784)
        array, or `x` (n, 784) itself when there is nothing to do. `background` is a
        blank pixel's value after preprocessing: 0.0 for pixels in [0, 1], -mean/std
        when standardized."""
        if not self:
            return x
        n = len(x)
        rng = np.random.default_rng((seed, epoch, batch))
        angles = np.deg2rad(rng.uniform(-self.rotate, self.rotate, n))  # (n,) radians
        scales = rng.uniform(1 - self.zoom, 1 + self.zoom, n)  # (n,)
        offsets = rng.uniform(-self.shift, self.shift, (n, 2))  # (n, 2) pixels (down, right)
        # in slices: distorting holds about 26x an image's floats in coordinates at once
        pieces = [
            distort_images(x[i : i + CHUNK], angles[i : i + CHUNK], scales[i : i + CHUNK],
                           offsets[i : i + CHUNK], background)
            for i in range(0, n, CHUNK)
        ]  # fmt: skip
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


NO_DISTORTIONS = Distortions()


def distort_images(
    x: np.ndarray,
    angles: np.ndarray,
    scales: np.ndarray,
    offsets: np.ndarray,
    background: float = 0.0,
) -> np.ndarray:
    """Image i of x (n, 784) turned by angles[i] radians, scaled by scales[i] and moved
    by offsets[i] = (dy, dx) pixels, about the centre.

    Each output pixel p looks up where it came from, q = centre + R(-angle) (p - centre
    - offset) / scale, and reads the image there by bilinear interpolation between
    the four pixels around q (outside the image: `background`). A whole-pixel move
    with no turn or scale reads exactly one pixel: a plain shift."""
    n = len(x)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE] - CENTRE  # (28, 28) each, centred
    dy = rows - offsets[:, 0, None, None]  # (n, 28, 28)
    dx = cols - offsets[:, 1, None, None]  # (n, 28, 28)
    cos = (np.cos(angles) / scales)[:, None, None]  # (n, 1, 1)
    sin = (np.sin(angles) / scales)[:, None, None]  # (n, 1, 1)
    source_rows = CENTRE + cos * dy + sin * dx  # (n, 28, 28) where each pixel came from
    source_cols = CENTRE - sin * dy + cos * dx  # (n, 28, 28)
    return bilinear(x.reshape(n, SIDE, SIDE), source_rows, source_cols, background)


def lerp(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """a + (b - a) * weight: a where weight is 0, and exactly a where b equals a (a blank
    area stays exactly blank; the four-weight sum would round it)."""
    return a + (b - a) * weight


def bilinear(
    images: np.ndarray, rows: np.ndarray, cols: np.ndarray, background: float
) -> np.ndarray:
    """images (n, 28, 28) read at fractional (rows, cols) (n, 28, 28): each value is the
    four surrounding pixels weighted by nearness (across the two upper and the two lower
    ones, then between those); pixels outside are `background`.
    Returns (n, 784) in the images' dtype."""
    n = len(images)
    # a blank border: 1 pixel before, 2 after, so a pixel far outside reads blank ones only
    edges = ((0, 0), (1, 2), (1, 2))
    padded = np.pad(images, edges, constant_values=background)  # (n, 31, 31)
    rows = np.clip(rows + 1, 0, SIDE + 1)  # (n, 28, 28) in padded coordinates
    cols = np.clip(cols + 1, 0, SIDE + 1)
    top = np.floor(rows).astype(np.intp)  # (n, 28, 28) in 0..29
    left = np.floor(cols).astype(np.intp)
    down = (rows - top).astype(images.dtype)  # (n, 28, 28) weight of the row below
    right = (cols - left).astype(images.dtype)  # weight of the column to the right
    image = np.arange(n)[:, None, None]  # (n, 1, 1)
    upper = lerp(padded[image, top, left], padded[image, top, left + 1], right)  # (n, 28, 28)
    lower = lerp(padded[image, top + 1, left], padded[image, top + 1, left + 1], right)
    out = lerp(upper, lower, down)  # (n, 28, 28)
    return out.reshape(n, SIDE * SIDE)  # (n, 784)
