"""The two output layers with their losses, and the L2 penalty.

crossentropy: softmax outputs + categorical cross-entropy, fused.
    Keras computes this loss from the *logits* Z: its softmax tags its output
    with the logits (`_keras_logits`) and `categorical_crossentropy` then calls
    `tf.nn.softmax_cross_entropy_with_logits`, so for a softmax Dense layer the
    probability clip to [1e-7, 1 - 1e-7] never happens. (It only happens when
    Keras gets bare probabilities, e.g. after a dtype cast of the model output.)
    Per sample: loss = logsumexp(Z) - Z[y]. The gradient of the batch mean is
    dZ = (P - Y) * (1 / batch), exactly what TF's fused kernel returns times the
    1/batch of the mean; there is no clip for it to flatten.

mse: sigmoid outputs + mean squared error, as `keras.losses.MeanSquaredError`:
    mean over the k outputs, then over the batch. dP = (P - Y) * (2 / k / batch),
    then through the sigmoid: dZ = dP * P * (1 - P).

`Y` is the one-hot form of the integer labels `y`; it is never built: subtracting
1 at `[rows, y]` is the same subtraction, exactly.
"""

from __future__ import annotations

import numpy as np

from scratch.activations import row_reduce, sigmoid_backward

Array = np.ndarray


def crossentropy_forward(Z: Array, y: Array, out: Array | None = None) -> tuple[Array, Array]:
    """Per-sample losses (batch,) from the logits Z (batch, k), and P = softmax(Z) in `out`."""
    S = np.subtract(Z, row_reduce(np.maximum, Z), out=out)  # (batch, k)
    S_true = S[np.arange(len(y)), y]  # (batch,) shifted logit of the true class
    P = np.exp(S, out=S)  # (batch, k), not yet normalised
    sum_exp = row_reduce(np.add, P)  # (batch, 1)
    P /= sum_exp  # (batch, k)
    losses = np.log(sum_exp[:, 0])  # (batch,)
    losses -= S_true  # logsumexp(Z) - Z[y]
    return losses, P


def crossentropy_backward(P: Array, y: Array) -> Array:
    """dZ = (P - Y) * (1 / batch), computed in place in P (batch, k)."""
    batch = len(y)
    P[np.arange(batch), y] -= 1
    P *= P.dtype.type(1) / P.dtype.type(batch)  # Keras: d(sum / batch) = 1 / batch
    return P


def mse_forward(P: Array, y: Array) -> Array:
    """Per-sample losses (batch,): mean over the k outputs of (P - Y)**2."""
    D = P.copy()  # (batch, k)
    D[np.arange(len(y)), y] -= 1  # P - Y
    return np.mean(D * D, axis=1)  # (batch,)


def mse_backward(P: Array, y: Array) -> Array:
    """dZ through the sigmoid outputs P (batch, k); overwrites P.

    The scale is built as TensorFlow builds it: (1 / batch) from the batch mean,
    then / k from the mean over outputs, then * 2 from the square.
    """
    batch, k = P.shape
    one = P.dtype.type(1)
    scale = 2 * (one / P.dtype.type(batch) / P.dtype.type(k))
    dP = P.copy()  # (batch, k)
    dP[np.arange(batch), y] -= 1  # P - Y
    dP *= scale
    return sigmoid_backward(dP, P, out=P)  # dP * P * (1 - P)


def batch_mean(losses: Array) -> np.floating:
    """Keras's "sum_over_batch_size" reduction: sum, then divide by the batch size."""
    return np.add.reduce(losses) / losses.dtype.type(len(losses))


def l2_penalty(kernels: list[Array], l2: np.floating) -> list[np.floating]:
    """One l2 * sum(W**2) per kernel, as `keras.regularizers.L2` adds to the loss."""
    return [l2 * np.vdot(W, W) for W in kernels]


def add_l2_gradient(dW: Array, W: Array, l2: np.floating, buffer: Array) -> None:
    """dW += 2 * l2 * W, in place (`buffer` is room for the product, shaped like W)."""
    np.multiply(W, 2 * l2, out=buffer)  # (fan_in, fan_out)
    dW += buffer
