"""Each optimizer against updates written out by hand (Keras 3's formulas), 3 steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratch.config import ModelConfig
from scratch.network import Network
from scratch.optimizers import make_optimizer

W0 = [[0.5, -1.0], [2.0, 0.25]]
GRADS = [  # one gradient per step
    [[0.1, -0.2], [0.3, 0.0]],
    [[-0.05, 0.4], [0.1, -0.3]],
    [[0.2, 0.2], [-0.1, 0.05]],
]


def f32(value: float) -> float:
    """Keras turns Python hyperparameters into float32 tensors before casting to float64."""
    return float(np.float32(value))


def run(config: ModelConfig) -> list[np.ndarray]:
    """The weights after each of the three steps of the scratch optimizer."""
    W = np.array(W0, dtype=config.dtype)
    optimizer = make_optimizer(config, [W])
    history = []
    for t, g in enumerate(GRADS, start=1):
        optimizer.step([W], [np.array(g, dtype=config.dtype)], t)
        history.append(W.copy())
    return history


def by_hand(update) -> list[list[list[float]]]:
    """Apply `update(w, g, state, t) -> w` element by element with Python floats."""
    weights = [row[:] for row in W0]
    state = [[{} for _ in row] for row in W0]
    history = []
    for t, grad in enumerate(GRADS, start=1):
        for i in range(2):
            for j in range(2):
                weights[i][j] = update(weights[i][j], grad[i][j], state[i][j], t)
        history.append([row[:] for row in weights])
    return history


def assert_same(actual, expected, rel=1e-15):
    for step, (a, e) in enumerate(zip(actual, expected, strict=True), start=1):
        np.testing.assert_allclose(a, np.array(e), rtol=rel, atol=1e-300, err_msg=f"step {step}")


def test_sgd():
    lr = f32(0.1)
    expected = by_hand(lambda w, g, s, t: w - g * lr)
    assert_same(run(ModelConfig(optimizer="sgd", learning_rate=0.1, dtype="float64")), expected)


def test_momentum():
    lr, mu = f32(0.05), f32(0.9)

    def update(w, g, s, t):
        s["v"] = s.get("v", 0.0) * mu - g * lr
        return w + s["v"]

    config = ModelConfig(optimizer="momentum", learning_rate=0.05, momentum=0.9, dtype="float64")
    assert_same(run(config), by_hand(update))


def test_nesterov():
    lr, mu = f32(0.05), f32(0.8)

    def update(w, g, s, t):
        s["v"] = s.get("v", 0.0) * mu - g * lr
        return w + (s["v"] * mu - g * lr)

    config = ModelConfig(optimizer="nesterov", learning_rate=0.05, momentum=0.8, dtype="float64")
    assert_same(run(config), by_hand(update))


def test_adam_with_bias_correction():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7

    def update(w, g, s, t):
        m = s.get("m", 0.0) + (g - s.get("m", 0.0)) * (1 - b1)
        v = s.get("v", 0.0) + (g * g - s.get("v", 0.0)) * (1 - b2)
        s["m"], s["v"] = m, v
        alpha = f32(lr) * math.sqrt(1 - f32(b2) ** t) / (1 - f32(b1) ** t)
        return w - m * alpha / (math.sqrt(v) + eps)

    config = ModelConfig(optimizer="adam", learning_rate=lr, dtype="float64")
    history = run(config)
    assert_same(history, by_hand(update), rel=1e-14)
    # Step 1 of Adam moves every weight with a nonzero gradient by ~lr against its sign.
    step1 = np.array(W0) - history[0]
    g1 = np.array(GRADS[0])
    np.testing.assert_allclose(step1[g1 != 0], lr * np.sign(g1[g1 != 0]), rtol=1e-4)
    assert step1[g1 == 0] == pytest.approx(0.0)


def test_float32_hyperparameters_differ_from_python_floats():
    """The detail the float64 comparison with Keras hinges on."""
    config = ModelConfig(optimizer="momentum", learning_rate=0.1, momentum=0.9, dtype="float64")
    optimizer = make_optimizer(config, [np.zeros(2)])
    assert optimizer.learning_rate.at(1) == np.float64(np.float32(0.1)) != 0.1
    assert optimizer.momentum == np.float64(np.float32(0.9)) != 0.9


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_optimizer_keeps_dtype(name, dtype):
    history = run(ModelConfig(optimizer=name, learning_rate=0.01, dtype=dtype))
    assert all(W.dtype == np.dtype(dtype) for W in history)


def test_train_step_applies_exactly_one_update():
    config = ModelConfig(input_size=4, hidden_sizes=(3,), output_size=3, dtype="float64")
    network = Network(config, seed=0)
    x, y = np.random.default_rng(0).normal(size=(5, 4)), np.array([0, 1, 2, 1, 0])
    before = network.get_weights()
    loss, grads = network.loss_and_gradients(x, y)
    assert network.train_step(x, y) == loss
    lr = np.float64(np.float32(config.learning_rate))
    for W, W_new, g in zip(before, network.get_weights(), grads, strict=True):
        np.testing.assert_array_equal(W_new, W - g * lr)
    assert network.iterations == 1


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_flat_vector_steps_exactly_as_the_per_layer_arrays(name, dtype):
    """The speed trick of network.py (one flat parameter vector) against its plain form."""
    config = ModelConfig(optimizer=name, learning_rate=0.01, lr_decay=1e-3, dtype=dtype)
    rng = np.random.default_rng(7)
    shapes = [(6, 5), (5,), (5, 3), (3,)]
    params = [rng.normal(size=shape).astype(dtype) for shape in shapes]
    flat = np.concatenate([p.ravel() for p in params])
    per_layer, one_vector = make_optimizer(config, params), make_optimizer(config, [flat])
    for t in range(1, 6):
        grads = [rng.normal(size=shape).astype(dtype) for shape in shapes]
        flat_grads = np.concatenate([g.ravel() for g in grads])
        per_layer.step(params, grads, t)
        one_vector.step([flat], [flat_grads], t)
        np.testing.assert_array_equal(np.concatenate([p.ravel() for p in params]), flat)
        np.testing.assert_array_equal(np.concatenate([g.ravel() for g in grads]), flat_grads)
