"""Activation functions, each forward pass next to its backward pass.

Every backward function gets the upstream gradient `dA` and the forward *output*
`A` (all three derivatives are cheapest written in terms of the output), and
returns `dZ`, the gradient with respect to the pre-activation `Z`. All of them
accept `out=` so the training loop can work in place on preallocated buffers.

The backward formulas are written in the same order of operations as
TensorFlow's gradient kernels (ReluGrad, SigmoidGrad, TanhGrad), so in float64
they round the same way as Keras.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def relu(Z: Array, out: Array | None = None) -> Array:
    """A = max(Z, 0)."""
    # A zeros array, not the scalar 0: NumPy's SIMD loop for maximum only runs when
    # both operands are arrays of the same shape (3x faster here).
    return np.maximum(Z, _zeros_like(Z), out=out)


def relu_backward(dA: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA where the unit was active (A > 0), else 0."""
    return np.multiply(dA, A > 0, out=out)


def sigmoid(Z: Array, out: Array | None = None) -> Array:
    """A = 1 / (1 + exp(-Z)); exp may overflow to inf for very negative Z, giving A = 0."""
    out = np.negative(Z, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def sigmoid_backward(dA: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA * A * (1 - A)."""
    one_minus_A = 1 - A  # (batch, units); first, because `out` may be A itself (mse)
    out = np.multiply(dA, A, out=out)
    out *= one_minus_A
    return out


def tanh(Z: Array, out: Array | None = None) -> Array:
    """A = tanh(Z)."""
    return np.tanh(Z, out=out)


def tanh_backward(dA: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA * (1 - A**2)."""
    one_minus_A2 = 1 - A * A  # (batch, units)
    return np.multiply(dA, one_minus_A2, out=out)


def softmax(Z: Array, out: Array | None = None) -> Array:
    """P = exp(Z - max Z) / sum(exp(Z - max Z)), row by row; shifting by the max
    changes nothing mathematically but keeps exp from overflowing. (Training gets
    the same P from losses.crossentropy_forward, which runs these very operations
    and keeps the pieces the loss needs.)"""
    out = np.subtract(Z, row_reduce(np.maximum, Z), out=out)  # (batch, classes)
    np.exp(out, out=out)
    out /= row_reduce(np.add, out)  # (batch, 1) broadcast
    return out


def row_reduce(ufunc: np.ufunc, M: Array) -> Array:
    """`ufunc.reduce(M, axis=1, keepdims=True)`: each row of M (batch, k) reduced to
    a (batch, 1) column, e.g. the row maxima with np.maximum or sums with np.add.

    Written this way because it is 2-3x faster for k = 10: NumPy reduces one short
    row per inner call, while reducing the transposed copy over axis 0 runs down the
    whole batch in SIMD. Maxima are exact either way; a sum may round differently in
    the last bit, since NumPy picks the order of the additions.
    """
    return ufunc.reduce(np.ascontiguousarray(M.T), axis=0)[:, np.newaxis]  # (batch, 1)


# The softmax backward pass never appears on its own: it is fused with the
# cross-entropy loss into dZ = (P - Y) / batch_size (see losses.py).

_ZEROS: dict[tuple, Array] = {}  # (shape, dtype) -> read-only zeros, for relu
_ZEROS_MAX_BYTES = 1 << 20  # cache zeros for training batches, not for huge arrays


def _zeros_like(Z: Array) -> Array | int:
    """Read-only zeros shaped like Z, made once per (shape, dtype) and kept (at most
    8 of them, 1 MiB each); plain 0 for anything bigger or not an array."""
    if not isinstance(Z, np.ndarray) or Z.nbytes > _ZEROS_MAX_BYTES:
        return 0
    key = (Z.shape, Z.dtype)
    zeros = _ZEROS.get(key)
    if zeros is None:
        zeros = np.zeros(Z.shape, Z.dtype)
        zeros.flags.writeable = False
        if len(_ZEROS) >= 8:
            _ZEROS.clear()
        _ZEROS[key] = zeros
    return zeros


Forward = Callable[..., Array]
Backward = Callable[..., Array]

HIDDEN: dict[str, tuple[Forward, Backward]] = {
    "relu": (relu, relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
}
