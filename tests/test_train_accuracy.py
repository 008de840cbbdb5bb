"""Training accuracy comes from train_step's own forward pass (`last_batch_correct`):
it must equal what `predict` says with the weights from before that step."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import ModelConfig, Network


def _batch(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


@pytest.mark.parametrize("loss", ["crossentropy", "mse"])
def test_scratch_counts_right_predictions_before_the_update(loss):
    x, y = _batch()
    network = Network(ModelConfig(loss=loss, learning_rate=0.5), seed=0)
    for _ in range(5):
        expected = int(np.count_nonzero(network.predict(x) == y))
        network.train_step(x, y)
        assert network.last_batch_correct == expected
    assert network.last_batch_correct > 0  # it learns this batch, so the count moved


@pytest.mark.keras
def test_keras_twin_counts_right_predictions_before_the_update():
    from keras_baseline import KerasTwin

    x, y = _batch()
    twin = KerasTwin(ModelConfig(learning_rate=0.5), seed=0)
    counts = []
    for _ in range(5):
        expected = int(np.count_nonzero(twin.predict(x) == y))
        twin.train_step(x, y)
        assert twin.last_batch_correct == expected
        counts.append(expected)
    assert len(set(counts)) > 1  # the weights changed between steps
