"""Backpropagation against finite differences, and the loss values against their definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scratch.config import ACTIVATIONS, LOSSES, ModelConfig
from scratch.gradcheck import TOLERANCE, check_all, relative_errors, small_config
from scratch.network import Network


@pytest.mark.parametrize(
    ("activation", "loss", "l2"), list(itertools.product(ACTIVATIONS, LOSSES, (0.0, 0.01)))
)
def test_gradients_match_finite_differences(activation, loss, l2):
    errors = relative_errors(small_config(activation, loss, l2), seed=1)
    assert max(errors) <= TOLERANCE, errors


def test_check_all_reports_every_combination():
    results = check_all()
    assert len(results) == len(ACTIVATIONS) * len(LOSSES) * 2
    assert all(error <= TOLERANCE for error in results.values())


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    """The check must be able to fail: break the relu derivative and it does."""
    from scratch.layers import ReLU

    monkeypatch.setattr(ReLU, "backward", lambda self, dA, need_dX=True: dA)  # forgets the mask
    assert max(relative_errors(small_config("relu", "crossentropy"), seed=1)) > 1e-3


def _tiny(loss: str, dtype: str = "float64") -> tuple[Network, np.ndarray, np.ndarray]:
    config = ModelConfig(input_size=3, hidden_sizes=(4,), output_size=5, loss=loss, dtype=dtype)
    rng = np.random.default_rng(3)
    network = Network(config, seed=rng)
    return network, rng.normal(size=(6, 3)).astype(dtype), rng.integers(0, 5, size=6)


def _logits(network: Network, x: np.ndarray) -> np.ndarray:
    W1, b1, W2, b2 = network.get_weights()
    return np.maximum(x @ W1 + b1, 0) @ W2 + b2


def test_crossentropy_is_keras_logits_formula_without_clip():
    """Keras's loss for a softmax Dense output: mean of logsumexp(z) - z[y], no clipping."""
    network, x, y = _tiny("crossentropy")
    network.set_weights([w * 40 for w in network.get_weights()])  # push some p below 1e-7
    z = _logits(network, x)
    expected = np.mean(
        np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1) - z[range(6), y]
    )
    p = network.predict_proba(x)
    assert p[range(6), y].min() < 1e-7  # the clip would have changed this loss
    loss, _ = network.loss_and_gradients(x, y)
    assert loss == pytest.approx(expected, rel=1e-13)
    assert network.evaluate(x, y)[0] == pytest.approx(expected, rel=1e-13)


def test_mse_is_mean_over_outputs_then_batch():
    network, x, y = _tiny("mse")
    p = 1 / (1 + np.exp(-_logits(network, x)))
    expected = np.mean(np.mean((p - np.eye(5)[y]) ** 2, axis=1))
    assert network.loss_and_gradients(x, y)[0] == pytest.approx(expected, rel=1e-13)


def test_output_gradient_is_p_minus_y_over_batch():
    network, x, y = _tiny("crossentropy")
    W1, b1, _, _ = network.get_weights()
    hidden = np.maximum(x @ W1 + b1, 0)
    dZ = (network.predict_proba(x) - np.eye(5)[y]) / len(y)
    _, grads = network.loss_and_gradients(x, y)
    np.testing.assert_allclose(grads[2], hidden.T @ dZ, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[3], dZ.sum(axis=0), rtol=1e-12, atol=1e-15)


def test_l2_adds_penalty_and_its_gradient():
    config = ModelConfig(input_size=3, hidden_sizes=(4,), output_size=5, l2=0.25, dtype="float64")
    plain = Network(ModelConfig(**{**config.to_dict(), "l2": 0.0}), seed=0)
    penalised = Network(config, seed=0)
    x, y = np.ones((2, 3)), np.array([0, 4])
    loss0, grads0 = plain.loss_and_gradients(x, y)
    loss1, grads1 = penalised.loss_and_gradients(x, y)
    kernels = penalised.get_weights()[0::2]
    l2 = float(np.float32(0.25))  # Keras casts l2 to the weight dtype through float32
    assert loss1 == pytest.approx(loss0 + l2 * sum((W**2).sum() for W in kernels), rel=1e-14)
    for i, W in enumerate(kernels):
        np.testing.assert_allclose(grads1[2 * i], grads0[2 * i] + 2 * l2 * W, rtol=1e-14)
    np.testing.assert_array_equal(grads1[1], grads0[1])  # biases are not regularised
