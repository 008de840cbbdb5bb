"""What each named backprop bug computes: the gradients a network with that bug returns.

`diagnose.py` recognises a learner's bug by computing these hypotheses at the learner's
own weights, on the same batch, and seeing which one their numbers match. `bug=None`
is the correct gradient of the Keras loss (a test holds it to `tf.GradientTape` at
1e-12), so every hypothesis differs from the truth by exactly its bug.

Keras layout throughout: weights [W1 (in, h1), b1 (h1,), ..., Wn (h, 10), bn (10,)];
x (n, 784), y (n,) digit labels. Output and loss come together: softmax +
crossentropy (dZ = (P - Y) / n) or sigmoid + mse (dZ = 2 (P - Y) / 10 / n * P (1 - P)).
"""

from __future__ import annotations

import numpy as np

from scratch.config import ModelConfig
from scratch.keras_rounding import keras_cast

# bug -> where it acts; "scope" picks the layers for the derivative bugs.
DERIVATIVE_BUGS = ("derivative_at_activation", "derivative_applied_twice")
SCOPES = ("all", "hidden", "output")


def _activate(name: str, Z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    return np.tanh(Z)


def _derivative(name: str, Z: np.ndarray) -> np.ndarray:
    """d activation / dZ, written as a function of Z (so a bug can feed it A instead)."""
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    if name == "sigmoid":
        S = 1 / (1 + np.exp(-Z))
        return S * (1 - S)
    return 1 - np.tanh(Z) ** 2


def _slope(name: str, Z: np.ndarray, A: np.ndarray, bug: str | None, buggy: bool) -> np.ndarray:
    """The factor the backward pass multiplies by at one layer, with or without the bug."""
    if not buggy or bug not in DERIVATIVE_BUGS:
        return _derivative(name, Z)
    if bug == "derivative_at_activation":
        return _derivative(name, A)
    return _derivative(name, Z) ** 2  # applied twice


def forward(weights: list[np.ndarray], x: np.ndarray, config: ModelConfig):
    """(inputs of each layer, Z of each layer, output P)."""
    kernels, biases = weights[0::2], weights[1::2]
    inputs, Zs = [x], []
    for index, (W, b) in enumerate(zip(kernels, biases, strict=True)):
        Z = inputs[-1] @ W + b  # (n, units)
        Zs.append(Z)
        if index < len(kernels) - 1:
            inputs.append(_activate(config.activation, Z))
    Z = Zs[-1]
    if config.loss == "crossentropy":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return inputs, Zs, E / E.sum(axis=1, keepdims=True)
    return inputs, Zs, 1 / (1 + np.exp(-Z))


def gradients(
    weights: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    config: ModelConfig,
    bug: str | None = None,
    scope: str = "all",
    backward_kernels: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Gradients of the batch-mean Keras loss (+ l2 * sum W**2), with `bug` if given.

    bugs: derivative_at_activation / derivative_applied_twice (in `scope` layers),
    extra_softmax_derivative, l2_on_biases; `backward_kernels` are the kernels the
    backward pass multiplies by (stale weights: ones already updated).
    """
    kernels, biases = weights[0::2], weights[1::2]
    back = backward_kernels if backward_kernels is not None else kernels
    inputs, Zs, P = forward(weights, x, config)
    n, k = P.shape
    Y = np.eye(k, dtype=P.dtype)[y]
    if config.loss == "crossentropy":
        dZ = (P - Y) / n  # (n, 10) the fused softmax + cross-entropy gradient
        if bug == "extra_softmax_derivative":
            dZ = dZ * P * (1 - P)
    else:
        out_bug = bug in DERIVATIVE_BUGS and scope in ("all", "output")
        slope = _slope("sigmoid", Zs[-1], P, bug, out_bug)
        dZ = 2 * (P - Y) / k / n * slope
    l2 = keras_cast(config.l2, P.dtype)  # Keras's L2 factor goes through float32
    grads: list[np.ndarray] = []
    for index in range(len(kernels) - 1, -1, -1):
        dW = inputs[index].T @ dZ  # (in, out)
        db = dZ.sum(axis=0)  # (out,)
        if config.l2:
            dW = dW + 2 * l2 * kernels[index]
            if bug == "l2_on_biases":
                db = db + 2 * l2 * biases[index]
        grads = [dW, db, *grads]
        if index:
            dA = dZ @ back[index].T  # (n, in)
            hidden_bug = bug in DERIVATIVE_BUGS and scope in ("all", "hidden")
            A = inputs[index]
            dZ = dA * _slope(config.activation, Zs[index - 1], A, bug, hidden_bug)
    return grads


def hypotheses(config: ModelConfig) -> list[tuple[str, dict]]:
    """(bug name, keyword arguments of `gradients`) for every bug model that can show here."""
    found: list[tuple[str, dict]] = []
    for bug in DERIVATIVE_BUGS:
        scopes = SCOPES if config.loss == "mse" else ("hidden",)
        found += [(bug, {"bug": bug, "scope": scope}) for scope in scopes]
    if config.loss == "crossentropy":
        found.append(("extra_softmax_derivative", {"bug": "extra_softmax_derivative"}))
    if config.l2:
        found.append(("l2_on_biases", {"bug": "l2_on_biases"}))
    return found
