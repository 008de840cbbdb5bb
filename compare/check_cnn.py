"""CNN rows of `mnist-compare check`: Conv2D, MaxPooling2D and Flatten against references.

Gradients (float64), one small network per layer setting, each checked three ways as the
perceptron's rows are (compare/check_gradients.py): every weight of a tiny 8x8-input
copy by finite differences (`gradcheck_8x8`), sampled finite differences of the real
network on real images, and `tf.GradientTape` through the Keras twin.

Max-pool ties and Flatten: a network's weight gradients cannot show where a max pool
sends a tied window's gradient (on real digits, tied windows hold the same pixels), so
the layer itself is compared with Keras's: its output and its input gradient dX on
real digits rounded to 4 grey levels, where most windows hold a tie. TensorFlow sends a
tied window's gradient to the first maximum in row-major order; so must scratch.

Lockstep: a small two-convolution network trained beside its twin, as the perceptron is
(compare/check_lockstep.py, the same criteria), for SGD and Adam.
"""

from __future__ import annotations

import numpy as np

from compare.check_gradients import (
    FD_LIMIT,
    KERAS_LIMIT,
    finite_difference_error,
    keras_gradient_error,
    norm_error,
    verdict,
)
from scratch.config import ModelConfig

# The layer under test -> the features in front of the output layer.
GRADIENT_STACKS: dict[str, tuple[str, ...]] = {
    "conv4x3": ("conv4x3", "relu", "flatten"),  # valid, stride 1
    "conv4x3same": ("conv4x3same", "relu", "flatten"),
    "conv4x3s2": ("conv4x3s2", "relu", "flatten"),
    "conv4x3s2same": ("conv4x3s2same", "relu", "flatten"),
    "pool2": ("conv4x3", "relu", "pool2", "flatten"),
    "pool3s2": ("conv4x3", "relu", "pool3s2", "flatten"),  # overlapping windows
}
QUICK_GRADIENT_STACKS = ("conv4x3s2same", "pool2")
LAYER_STACKS = ("pool2", "pool3s2", "flatten")  # compared as single layers, with ties
TIE_LEVELS = 3  # pixels rounded to 0, 1/3, 2/3, 1: most windows hold a tie
# A max pool and a reshape only move numbers; overlapping windows add their gradients,
# perhaps in another order than TensorFlow: equal to rounding.
LAYER_LIMIT = 1e-15

LOCKSTEP_LAYERS = ("conv8x3", "relu", "pool2", "conv16x3", "relu", "pool2", "flatten", "dense10")
LOCKSTEP_OPTIMIZERS = ("sgd", "adam")
LOCKSTEP_STEPS = 500
QUICK_LOCKSTEP_STEPS = 50
TINY_SIDE = 8  # the every-weight gradcheck's input: 8x8 random images, 4 classes


def gradient_rows(x: np.ndarray, y: np.ndarray, quick: bool, seed: int = 0) -> list[dict]:
    """Three rows per layer setting (tiny gradcheck, sampled differences, Keras), then one
    row per single-layer comparison with ties; all float64."""
    from keras_baseline.twin import KerasTwin
    from scratch.network import Network

    X = x.astype(np.float64)
    rows = []
    names = QUICK_GRADIENT_STACKS if quick else tuple(GRADIENT_STACKS)
    for name in names:
        features = GRADIENT_STACKS[name]
        config = ModelConfig(layers=(*features, "dense10"), dtype="float64")
        network = Network(config, seed=seed)
        network.set_weights(off_the_kink(network.get_weights(), seed))
        base = _base(name, ",".join(config.layer_specs))
        tiny = tiny_gradcheck_error(features, seed)
        rows.append(base | verdict(f"gradcheck_{TINY_SIDE}x{TINY_SIDE}", tiny, FD_LIMIT, None))
        fd, skipped = finite_difference_error(network, X, y, seed=seed)
        rows.append(base | verdict("finite_differences", fd, FD_LIMIT, None, skipped))
        error, loss_diff = keras_gradient_error(network, KerasTwin(config, seed=seed), X, y)
        rows.append(base | verdict("keras", error, KERAS_LIMIT, loss_diff))
    for spec in LAYER_STACKS:
        rows.append(layer_row(spec, X, seed))
    return rows


def off_the_kink(weights: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """The weights with biases drawn from N(0, 0.1) instead of zeros. With zero biases every
    unit over the blank background has Z = 0 exactly, on ReLU's kink, where a finite
    difference sees the slope of one side only (and Keras and scratch both take the
    other side's, 0)."""
    rng = np.random.default_rng(seed)
    return [w if w.ndim > 1 else rng.normal(0.0, 0.1, size=w.shape) for w in weights]


def _base(layer: str, stack: str) -> dict:
    return {
        "check": "gradient",
        "network": "cnn",
        "layer": layer,
        "stack": stack,
        "activation": None,
        "loss": "crossentropy",
        "l2": 0.0,
        "dtype": "float64",
        "optimizer": None,
        "steps": None,
    }


def tiny_gradcheck_error(features: tuple[str, ...], seed: int = 0) -> float:
    """scratch.gradcheck on the same features over 8x8 images and 4 classes: every
    weight differenced (worst array)."""
    from scratch.gradcheck import relative_errors

    config = ModelConfig(
        input_size=TINY_SIDE * TINY_SIDE, output_size=4, layers=(*features, "dense4")
    )
    return float(np.max(relative_errors(config, seed=seed)))


def layer_row(spec: str, x: np.ndarray, seed: int = 0) -> dict:
    """One layer, scratch against Keras: output and input gradient on tied inputs."""
    from keras_baseline.twin import keras_layer_gradient
    from scratch.layers import make_layer

    X = np.round(x.reshape(len(x), 28, 28, 1) * TIE_LEVELS) / TIE_LEVELS  # (n, 28, 28, 1)
    X = np.concatenate([X, 1 - X], axis=3)  # two channels: Flatten's order shows
    layer = make_layer(spec)
    layer.build(X.shape[1:], X.dtype, "glorot_uniform", np.random.default_rng(seed))
    A_s = layer.forward(X).copy()
    dA = np.random.default_rng(seed).normal(size=A_s.shape)  # (n, *output shape)
    dX_s = layer.backward(dA).copy()
    A_k, dX_k = keras_layer_gradient(spec, X, dA, ModelConfig(dtype="float64"))
    error = max(norm_error(A_s.ravel(), A_k.ravel()), norm_error(dX_s.ravel(), dX_k.ravel()))
    tied = _tied_windows(layer, X) if spec.startswith("pool") else None
    row = _base(spec, f"{spec} alone, 28x28x2 inputs of 4 grey levels") | {"tied_windows": tied}
    return row | verdict("keras_layer_dX", error, LAYER_LIMIT, None)


def _tied_windows(pool, X: np.ndarray) -> float:
    """The share of windows whose maximum is held by two or more positions."""
    Ho, Wo, _ = pool.output_shape(X.shape[1:])
    windows = np.stack(pool.window_views(X, Ho, Wo))  # (positions, n, Ho, Wo, C)
    return float(np.mean((windows == windows.max(axis=0)).sum(axis=0) > 1))


def lockstep_configs(dtypes: tuple[str, ...], optimizers: tuple[str, ...]) -> list[ModelConfig]:
    """The small CNN for each dtype x optimizer (SGD and Adam of those asked for)."""
    from compare.runconfig import DEFAULT_LEARNING_RATE

    chosen = [name for name in LOCKSTEP_OPTIMIZERS if name in optimizers] or ["sgd"]
    return [
        ModelConfig(
            layers=LOCKSTEP_LAYERS,
            optimizer=optimizer,
            learning_rate=DEFAULT_LEARNING_RATE[optimizer],
            dtype=dtype,
        )
        for dtype in dtypes
        for optimizer in chosen
    ]
