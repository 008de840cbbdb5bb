"""The scratch network on real MNIST (a 2,000-image subset): it must clearly learn."""

from __future__ import annotations

import numpy as np
import pytest

from compare.batches import BatchSchedule
from scratch.config import ModelConfig
from scratch.network import Network

pytestmark = pytest.mark.mnist


def test_learns_real_digits_in_three_epochs(mnist_small, tmp_path):
    splits = mnist_small
    network = Network(ModelConfig(hidden_sizes=(128,), learning_rate=0.1), seed=0)
    schedule = BatchSchedule(len(splits.y_train), 32, seed=0)
    history = network.fit(splits.x_train, splits.y_train, schedule=schedule, epochs=3)
    loss, accuracy = network.evaluate(splits.x_test, splits.y_test)
    assert accuracy >= 0.85, f"test accuracy {accuracy:.3f} after 3 epochs on 2,000 images"
    assert history[2] < history[0] and loss < 0.6
    path = tmp_path / "mnist.npz"
    network.save(path)
    predictions = Network.load(path).predict(splits.x_test)
    np.testing.assert_array_equal(predictions, network.predict(splits.x_test))


def test_textbook_sigmoid_mse_network_learns(mnist_small):
    """784-30-10 sigmoid, quadratic cost, N(0, 1/fan_in) init, SGD lr 3 (Nielsen's network)."""
    splits = mnist_small
    config = ModelConfig(
        hidden_sizes=(30,), activation="sigmoid", loss="mse", init="normal", learning_rate=3.0
    )
    network = Network(config, seed=0)
    network.fit(splits.x_train, splits.y_train, schedule=BatchSchedule(2000, 10, seed=0), epochs=3)
    assert network.evaluate(splits.x_test, splits.y_test)[1] >= 0.80
