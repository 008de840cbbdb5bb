"""Weight initializers: kernels from a NumPy Generator, biases zero.

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

TRUNCATED_NORMAL_STDDEV = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]


def glorot_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))  # (fan_in, fan_out)


def truncated_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Unit normal draws, each one outside [-2, 2] redrawn until it falls inside."""
    draws = rng.standard_normal(shape)
    outside = np.abs(draws) > 2
    while outside.any():
        draws[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(draws) > 2
    return draws


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    stddev = math.sqrt(2.0 / fan_in) / TRUNCATED_NORMAL_STDDEV
    return stddev * truncated_normal((fan_in, fan_out), rng)  # (fan_in, fan_out)


def normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=(fan_in, fan_out))  # (fan_in, fan_out)


INITIALIZERS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "normal": normal,
}


def init_params(
    layer_sizes: tuple[int, ...], init: str, dtype: str, rng: np.random.Generator
) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...]: kernels (fan_in, fan_out) C-contiguous, biases (fan_out,) zero."""
    draw = INITIALIZERS[init]
    params: list[np.ndarray] = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        params.append(np.ascontiguousarray(draw(fan_in, fan_out, rng), dtype=dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params
