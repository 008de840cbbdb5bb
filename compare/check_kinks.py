"""Kink flips: where two models that agree to rounding part for a reason, not a bug.

ReLU and max pooling each have a kink, a point where the gradient jumps:
- ReLU passes the gradient of a unit whose pre-activation Z > 0 and blocks it at Z <= 0;
- a max pool sends a window's gradient to the position that holds the window's max.

When a unit's Z is within rounding of 0 (|Z| ~ 1e-7 in float32), the two models' rounding
can put it on opposite sides, so one model passes that unit's gradient and the other blocks
it. Likewise when a window's two largest inputs differ by rounding, the models can pick
different maxima and route the gradient to different pixels. Either way the weights jump
apart by ~lr * |gradient| in one step, and float32 lockstep leaves the 1e-5 bound for a
reason that is not a bug. The check watches each batch for the first such flip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compare.metrics import weight_difference
from scratch.conv import MaxPooling2D
from scratch.layers import ReLU


@dataclass(frozen=True)
class KinkFlip:
    """The smallest flip on one batch: `size` is |Z| of a flipped ReLU unit, or the gap
    between the two maxima a pool window chose between; `layer` names where it was."""

    size: float
    layer: str


def scratch_kink_inputs(network, x: np.ndarray) -> list[tuple[str, np.ndarray, object]]:
    """(where, input, layer) of every ReLU and max-pool layer of the scratch network on x,
    first to last, `where` as "relu (layer 2)" (copies: the layers reuse their arrays)."""
    X = network._check_inputs(x)
    inputs = []
    for number, layer in enumerate(network.layers, start=1):
        if isinstance(layer, ReLU | MaxPooling2D):
            inputs.append((f"{layer.spec} (layer {number})", X.copy(), layer))
        X = layer.forward(X)
    return inputs


def kink_pattern(network, x: np.ndarray) -> list[np.ndarray]:
    """Which side of its kink every ReLU unit is on (Z > 0) and which position each max-pool
    window takes its max from, on x: equal patterns mean no kink lies in between."""
    return [
        A > 0 if isinstance(layer, ReLU) else first_max_positions(layer, A)[1]
        for _, A, layer in scratch_kink_inputs(network, x)
    ]


def same_pattern(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def first_max_positions(pool: MaxPooling2D, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stacked windows (positions, n, Ho, Wo, C), index of each window's first max)."""
    Ho, Wo, _ = pool.output_shape(X.shape[1:])
    windows = np.stack(pool.window_views(X, Ho, Wo))  # (positions, n, Ho, Wo, C)
    return windows, np.argmax(windows, axis=0)  # argmax: the first max, as TensorFlow


def kink_flip(network, twin, x_batch: np.ndarray) -> KinkFlip | None:
    """The smallest flip between the two models on this batch, or None if every ReLU unit
    and every pool window is on the same side of its kink in both."""
    smallest: KinkFlip | None = None
    scratch_inputs = scratch_kink_inputs(network, x_batch)
    keras_inputs = twin.kink_inputs(x_batch)
    for (where, A_s, layer), (kind, A_k) in zip(scratch_inputs, keras_inputs, strict=True):
        size = _relu_flip(A_s, A_k) if kind == "relu" else _pool_flip(layer, A_s, A_k)
        if size is not None and (smallest is None or size < smallest.size):
            smallest = KinkFlip(size, where)
    return smallest


def _relu_flip(Z_s: np.ndarray, Z_k: np.ndarray) -> float | None:
    flipped = (Z_s > 0) != (Z_k > 0)
    return float(np.abs(Z_s[flipped]).min()) if flipped.any() else None


def _pool_flip(pool: MaxPooling2D, X_s: np.ndarray, X_k: np.ndarray) -> float | None:
    windows, chosen_s = first_max_positions(pool, X_s)
    _, chosen_k = first_max_positions(pool, X_k)
    flipped = chosen_s != chosen_k
    if not flipped.any():
        return None
    picked_s = np.take_along_axis(windows, chosen_s[None], axis=0)[0]
    picked_k = np.take_along_axis(windows, chosen_k[None], axis=0)[0]
    return float(np.abs(picked_s - picked_k)[flipped].min())  # the gap, in scratch's values


FLIP_KEYS = (
    "parting_flip_step",
    "parting_flip_size",
    "parting_flip_layer",
    "max_abs_weight_diff_before_flip",
)


class PartingWatch:
    """Finds the kink flip that parted two float32 models, if one did.

    Flips by rounding are common and mostly harmless (a window whose gradient is tiny, a
    unit that flips back), so a flip alone excuses nothing. Step by step, up to step
    `until`, the watch notes the latest flip and measures max |dW| after the step; the
    first step where max |dW| leaves `limit` is where the models parted, and the latest
    flip at or before it is the one that parted them. `figures` holds it (FLIP_KEYS),
    with max |dW| just before that flip's step."""

    def __init__(self, active: bool, limit: float, until: int) -> None:
        self.active, self.limit, self.until = active, limit, until
        self.previous_diff = 0.0  # both models start from the same weights
        self.latest: tuple[int, KinkFlip, float] | None = None
        self.figures: dict = dict.fromkeys(FLIP_KEYS)

    def before_step(self, step: int, network, twin, x_batch: np.ndarray) -> None:
        if self.active and (found := kink_flip(network, twin, x_batch)) is not None:
            self.latest = (step, found, self.previous_diff)

    def after_step(self, step: int, network, twin) -> None:
        if not self.active:
            return
        diff, _ = weight_difference(network.get_weights(), twin.get_weights())
        if diff > self.limit and self.latest is not None:
            flip_step, flip, before = self.latest
            found = (flip_step, flip.size, flip.layer, before)
            self.figures = dict(zip(FLIP_KEYS, found, strict=True))
        self.active = diff <= self.limit and step < self.until
        self.previous_diff = diff
