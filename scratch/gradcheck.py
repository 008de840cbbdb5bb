"""Gradient check: backpropagation against centred finite differences.

For every parameter element w, the numerical derivative is
    (L(w + h) - L(w - h)) / (2h),
whose error shrinks like h**2. We compare it with the analytic gradient from
`Network.loss_and_gradients` in float64 on a tiny network and batch, and report
for each parameter array the relative error
    |analytic - numeric| / max(|analytic| + |numeric|, tiny)
taken with the Euclidean norm over the array. Around 1e-9 or below means the
backward pass is right; a wrong formula gives errors near 1.

Run it: `python -m scratch.gradcheck` checks every activation x loss pair, with
and without L2.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from scratch.config import ACTIVATIONS, LOSSES, ModelConfig
from scratch.network import Network

TOLERANCE = 1e-7
H = 1e-5  # the finite-difference step: its error ~ H**2 against float64 rounding ~ 1e-16 / H


def numeric_gradients(network: Network, x: np.ndarray, y: np.ndarray, h: float) -> list:
    """Centred differences of the loss for every element of every parameter."""
    grads = []
    for param in network.params:
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + h
            plus = network.loss_and_gradients(x, y)[0]
            param[index] = saved - h
            minus = network.loss_and_gradients(x, y)[0]
            param[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def relative_errors(config: ModelConfig, seed: int = 0, batch: int = 8) -> list:
    """One relative error per parameter array of a float64 network built from `config`."""
    config = replace(config, dtype="float64")
    rng = np.random.default_rng(seed)
    network = Network(config, seed=rng)
    x = rng.normal(size=(batch, config.input_size))  # (batch, inputs)
    y = rng.integers(0, config.output_size, size=batch)  # (batch,)
    _, analytic = network.loss_and_gradients(x, y)
    numeric = numeric_gradients(network, x, y, H)
    errors = []
    for a, n in zip(analytic, numeric, strict=True):
        scale = max(float(np.linalg.norm(a) + np.linalg.norm(n)), 1e-300)
        errors.append(float(np.linalg.norm(a - n)) / scale)
    return errors


def small_config(activation: str, loss: str, l2: float = 0.0) -> ModelConfig:
    """A network small enough to difference every weight: 6 -> 5 -> 4 -> 4."""
    return ModelConfig(
        input_size=6,
        hidden_sizes=(5, 4),
        output_size=4,
        activation=activation,
        loss=loss,
        init="he_normal",
        l2=l2,
        dtype="float64",
    )


def check_all() -> dict[str, float]:
    """Worst relative error for each activation x loss x (l2 off/on); raises if any fails."""
    results = {}
    for activation, loss, l2 in itertools.product(ACTIVATIONS, LOSSES, (0.0, 0.01)):
        name = f"{activation}/{loss}/l2={l2}"
        results[name] = max(relative_errors(small_config(activation, loss, l2)))
    failed = {name: err for name, err in results.items() if err > TOLERANCE}
    if failed:
        raise AssertionError(f"gradient check failed (tolerance {TOLERANCE}): {failed}")
    return results


if __name__ == "__main__":
    for case, error in check_all().items():
        print(f"{case:32s} max relative error {error:.2e}")
