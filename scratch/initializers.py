"""Weight initializers: kernels drawn from a NumPy Generator (biases start at zero).

Each kernel is drawn in float64 and then cast to the model dtype, so one seed
gives the same starting point (up to rounding) in float32 and float64.

- glorot_uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
- he_normal: as Keras's VarianceScaling(scale=2, mode="fan_in",
  distribution="truncated_normal"): a normal truncated at two standard
  deviations (TF's stateless_truncated_normal redraws anything beyond 2 sigma),
  with stddev = sqrt(2 / fan_in) / 0.87962566103423978. The divisor is the
  standard deviation of a unit normal truncated to [-2, 2], so the truncated
  draw ends up with variance 2 / fan_in.
- normal: the textbook N(0, 1 / fan_in), i.e. stddev 1 / sqrt(fan_in).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Array = np.ndarray
Shape = tuple[int, ...]

TRUNCATED_NORMAL_STDDEV = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]


def glorot_uniform(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def truncated_normal(shape: Shape, rng: np.random.Generator) -> Array:
    """Unit normal draws, each one outside [-2, 2] redrawn until it falls inside."""
    draws = rng.standard_normal(shape)
    outside = np.abs(draws) > 2
    while outside.any():
        draws[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(draws) > 2
    return draws


def he_normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    stddev = math.sqrt(2.0 / fan_in) / TRUNCATED_NORMAL_STDDEV
    return stddev * truncated_normal(shape, rng)


def normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    return rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=shape)


INITIALIZERS: dict[str, Callable[[Shape, int, int, np.random.Generator], Array]] = {
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "normal": normal,
}


def draw(init: str, shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """A float64 kernel of `shape` from the initializer named `init` (the layer casts it).
    `fan_in` and `fan_out` are the inputs and outputs each kernel entry connects:
    for Dense (fan_in, fan_out) is the kernel's shape."""
    return INITIALIZERS[init](shape, fan_in, fan_out, rng)
