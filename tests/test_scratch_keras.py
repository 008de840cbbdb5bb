"""The scratch network against a real Keras 3 model, step by step, in float64.

Built here from plain Keras (not keras_baseline) the way a float64 Keras program
has to be written: layers and loss in float64, compiled under floatx float64,
the optimizer (and its learning-rate Variable) left at Keras's float32 default.
After several steps on the same batches the weights must agree to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratch.config import ModelConfig
from scratch.network import Network

pytestmark = [pytest.mark.keras, pytest.mark.slow]
keras = pytest.importorskip("keras")


def keras_model(config: ModelConfig):
    dtype = config.dtype
    l2 = keras.regularizers.L2(config.l2) if config.l2 else None
    layers = [keras.Input((config.input_size,), dtype=dtype)]
    for units in config.hidden_sizes:
        layers.append(
            keras.layers.Dense(units, config.activation, kernel_regularizer=l2, dtype=dtype)
        )
    layers.append(
        keras.layers.Dense(
            config.output_size, config.output_activation, kernel_regularizer=l2, dtype=dtype
        )
    )
    model = keras.Sequential(layers)
    if config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(config.learning_rate, config.beta_1, config.beta_2)
    else:
        momentum = 0.0 if config.optimizer == "sgd" else config.momentum
        nesterov = config.optimizer == "nesterov"
        optimizer = keras.optimizers.SGD(config.learning_rate, momentum, nesterov)
    if config.loss == "crossentropy":
        loss = keras.losses.CategoricalCrossentropy(dtype=dtype)
    else:
        loss = keras.losses.MeanSquaredError(dtype=dtype)
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        model.compile(optimizer=optimizer, loss=loss)
    finally:
        keras.config.set_floatx(previous)
    return model


CASES = [
    dict(optimizer="momentum", l2=1e-3),
    dict(optimizer="nesterov", activation="sigmoid", loss="mse", init="normal", learning_rate=2.0),
    dict(optimizer="adam", activation="tanh", hidden_sizes=(16, 8), learning_rate=0.01, l2=1e-4),
]


@pytest.mark.parametrize("overrides", CASES, ids=lambda c: c["optimizer"])
def test_float64_steps_match_keras(overrides):
    base = dict(input_size=20, hidden_sizes=(16,), dtype="float64", init="he_normal")
    config = ModelConfig(**{**base, **overrides})
    network = Network(config, seed=0)
    model = keras_model(config)
    model.set_weights(network.get_weights())
    rng = np.random.default_rng(1)
    x, y = rng.random((200, 20)), rng.integers(0, 10, 200)
    for _ in range(12):
        idx = rng.choice(200, 32, replace=False)
        scratch_loss = network.train_step(x[idx], y[idx])
        keras_loss = float(model.train_on_batch(x[idx], np.eye(10)[y[idx]]))
        assert scratch_loss == pytest.approx(keras_loss, rel=1e-13)
    for mine, theirs in zip(network.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12)
    keras_grads_loss = float(model.test_on_batch(x, np.eye(10)[y]))
    assert network.loss_and_gradients(x, y)[0] == pytest.approx(keras_grads_loss, rel=1e-13)
