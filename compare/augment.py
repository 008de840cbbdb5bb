"""Random shifts of the training images, made in the shared pipeline.

With `data.shift = N` (`--shift N`), every training image of every batch is moved by a
random whole number of pixels, from -N to N down and from -N to N across, before any
model sees it; the pixels moved in are background. A network then learns that a digit
one pixel lower is the same digit: the regularizer LeNet-5's 1998 paper used, and one
that, unlike dropout's masks, every model can share.

The shifts are made once per batch, in the training loop, and every model gets the
very same shifted array, so lockstep stays exact. They are a function of (seed,
epoch, batch) alone: `numpy.random.default_rng((seed, epoch, batch))` draws them, so
each model's worker process, a resumed run or a test makes the same ones. Validation
and test images are never shifted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDE = 28  # MNIST images are 28 x 28
MAX_SHIFT = SIDE // 2  # a larger shift can move most of a digit off the image


@dataclass(frozen=True)
class Shifts:
    """Shift each image of a batch by its own random (dy, dx) in -max_shift..max_shift.

    `background` is the value an empty pixel has after preprocessing: 0 for pixels
    scaled to [0, 1], -mean/std when standardized.
    """

    max_shift: int
    seed: int
    background: float = 0.0

    def batch(self, x: np.ndarray, epoch: int, batch: int) -> np.ndarray:
        """Batch `batch` (0-based) of epoch `epoch` (0-based), shifted: (n, 784) -> (n, 784).
        A new array; `x` is not changed."""
        if self.max_shift == 0:
            return x
        rng = np.random.default_rng((self.seed, epoch, batch))
        offsets = rng.integers(-self.max_shift, self.max_shift + 1, size=(len(x), 2))  # (n, 2)
        return shift_images(x, offsets, self.background)


def shift_images(x: np.ndarray, offsets: np.ndarray, background: float = 0.0) -> np.ndarray:
    """Image i of x (n, 784), moved offsets[i] = (dy, dx) pixels (down, right): pixel
    (r, c) of the result is pixel (r - dy, c - dx) of the image, or `background`
    where that lies outside it. One gather for the whole batch: pad every image by
    `m` pixels on each side, then read each one's 28 x 28 window at (m - dy, m - dx)."""
    n = len(x)
    m = int(np.abs(offsets).max(initial=0))
    images = x.reshape(n, SIDE, SIDE)  # (n, 28, 28)
    edge = ((0, 0), (m, m), (m, m))
    padded = np.pad(images, edge, constant_values=background)  # (n, 28+2m, 28+2m)
    pixels = np.arange(SIDE)  # (28,)
    rows = (m - offsets[:, 0])[:, None, None] + pixels[None, :, None]  # (n, 28, 1)
    cols = (m - offsets[:, 1])[:, None, None] + pixels[None, None, :]  # (n, 1, 28)
    shifted = padded[np.arange(n)[:, None, None], rows, cols]  # (n, 28, 28)
    return shifted.reshape(n, SIDE * SIDE)  # (n, 784)
