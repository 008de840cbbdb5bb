"""Gradient rows of `mnist-compare check`: scratch backprop against two references.

1. `scratch.gradcheck`: every single weight of a tiny 6-5-4-4 network
   differenced (random inputs), worst parameter array.
2. Central finite differences of the real-size network's loss on real images
   (float64), on a sample of parameters per array: half drawn at random, half the
   entries with the largest gradients (a random pick alone lands mostly on the
   always-blank border pixels, whose gradient is exactly 0 and proves nothing).
3. `tf.GradientTape` through the Keras twin, at identical weights on the same
   batch: every gradient entry.

Errors are norm-wise, ||a - b|| / (||a|| + ||b||), so a zero gradient compared
with a zero gradient is an error of 0, not 0/0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from compare.check_kinks import kink_pattern, same_pattern
from scratch.config import ACTIVATIONS, LOSSES, ModelConfig

L2_VALUES = (0.0, 1e-3)
FD_STEP = 1e-6  # central-difference step h in float64: truncation h**2 vs rounding eps/h
FD_LIMIT = 1e-7
KERAS_LIMIT = 1e-12  # gradients against tf.GradientTape, float64, same weights
KERAS_LOSS_LIMIT = 1e-12  # |scratch loss - Keras loss| in float64, same weights
SAMPLES_PER_ARRAY = 24


@dataclass(frozen=True)
class GradientCase:
    activation: str
    loss: str
    l2: float


def gradient_cases(quick: bool) -> list[GradientCase]:
    """Every activation x loss x (no L2, L2); `quick` keeps 4 that cover each one once."""
    cases = [
        GradientCase(a, lo, l2) for a, lo, l2 in itertools.product(ACTIVATIONS, LOSSES, L2_VALUES)
    ]
    if not quick:
        return cases
    keep = {("relu", "crossentropy", 0.0), ("sigmoid", "mse", 1e-3), ("tanh", "crossentropy", 1e-3)}
    keep.add(("relu", "mse", 0.0))
    return [c for c in cases if (c.activation, c.loss, c.l2) in keep]


def norm_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||), 0 when both are 0."""
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def sample_indices(gradient: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    """k/2 random flat indices plus the k/2 largest-|gradient| ones (unique)."""
    flat = np.abs(gradient).ravel()
    largest = np.argsort(flat)[-(k // 2) :]
    random = rng.choice(flat.size, size=min(k - k // 2, flat.size), replace=False)
    return np.unique(np.concatenate([largest, random]))


def finite_difference_error(
    network, x: np.ndarray, y: np.ndarray, seed: int = 0
) -> tuple[float, int]:
    """Backprop vs central differences on sampled entries of every parameter array:
    (the worst array's error, the samples skipped).

    A sample whose shift by +-h moves a ReLU unit or a max-pool window to the other side
    of its kink (compare/check_kinks.py) is skipped: the loss is not smooth there, and
    the difference measures a mix of the two sides' slopes, not the derivative. (With
    thousands of convolution units per batch, one of them within h of a kink is likely.)"""
    _, gradients = network.loss_and_gradients(x, y)
    weights = network.get_weights()
    kinks = kink_pattern(network, x)
    rng = np.random.default_rng(seed)
    errors, skipped = [], 0
    for array_index, gradient in enumerate(gradients):
        analytic, numeric = [], []
        for flat_index in sample_indices(gradient, rng, SAMPLES_PER_ARRAY):
            losses, crossed = [], False
            for sign in (1.0, -1.0):
                shifted = [w.copy() for w in weights]
                shifted[array_index].reshape(-1)[flat_index] += sign * FD_STEP
                network.set_weights(shifted)
                losses.append(network.loss_and_gradients(x, y)[0])
                crossed = crossed or not same_pattern(kink_pattern(network, x), kinks)
            if crossed:
                skipped += 1
                continue
            numeric.append((losses[0] - losses[1]) / (2 * FD_STEP))
            analytic.append(gradient.reshape(-1)[flat_index])
        # Every sample of an array on a kink proves nothing about it: NaN, a failure.
        error = norm_error(np.array(analytic), np.array(numeric)) if analytic else np.nan
        errors.append(error)
    network.set_weights(weights)
    # The worst array: pooled, big kernel entries could hide a wrong bias gradient.
    return float(np.max(errors)), skipped  # np.max keeps a NaN; max() may drop it


def tiny_gradcheck_error(case: GradientCase, seed: int = 0) -> float:
    """scratch.gradcheck: every weight of its 6-5-4-4 float64 network differenced
    (worst array), complementing the sampled check of the real-size network."""
    from scratch.gradcheck import relative_errors, small_config

    errors = relative_errors(small_config(case.activation, case.loss, case.l2), seed=seed)
    return float(np.max(errors))


def keras_gradient_error(network, twin, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(norm-wise gradient error of the worst array, |loss difference|) at the same weights."""
    twin.set_weights(network.get_weights())
    loss_s, grads_s = network.loss_and_gradients(x, y)
    loss_k, grads_k = twin.loss_and_gradients(x, y)
    errors = [
        norm_error(g_s.astype(np.float64).ravel(), g_k.astype(np.float64).ravel())
        for g_s, g_k in zip(grads_s, grads_k, strict=True)
    ]
    return float(np.max(errors)), abs(loss_s - loss_k)


def gradient_rows(
    x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...], quick: bool, seed: int = 0
) -> list[dict]:
    """One row per case and reference (tiny gradcheck, sampled differences, Keras); float64."""
    from keras_baseline.twin import KerasTwin
    from scratch.network import Network

    rows = []
    for case in gradient_cases(quick):
        config = ModelConfig(
            hidden_sizes=hidden,
            activation=case.activation,
            loss=case.loss,
            l2=case.l2,
            dtype="float64",
        )
        network = Network(config, seed=seed)
        X = x.astype(np.float64)
        base = {"check": "gradient", "network": "mlp", "activation": case.activation}
        base |= {"loss": case.loss}
        base |= {"l2": case.l2, "dtype": "float64", "optimizer": None, "steps": None}
        tiny = tiny_gradcheck_error(case, seed=seed)
        rows.append(base | verdict("gradcheck_6-5-4-4", tiny, FD_LIMIT, None))
        fd, skipped = finite_difference_error(network, X, y, seed=seed)
        rows.append(base | verdict("finite_differences", fd, FD_LIMIT, None, skipped))
        error, loss_diff = keras_gradient_error(network, KerasTwin(config, seed=seed), X, y)
        rows.append(base | verdict("keras", error, KERAS_LIMIT, loss_diff))
    return rows


def verdict(
    reference: str, error: float, limit: float, loss_diff: float | None, skipped: int = 0
) -> dict:
    return {
        "reference": reference,
        "relative_error": error,
        "limit": limit,
        "loss_diff": loss_diff,
        "kink_skips": skipped,  # finite-difference samples that straddled a kink
        "passed": bool(
            np.isfinite(error)
            and error <= limit
            and (loss_diff is None or loss_diff <= KERAS_LOSS_LIMIT)  # the loss must match too
        ),
    }
