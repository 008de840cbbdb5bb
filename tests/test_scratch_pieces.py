"""Small speed-minded helpers give exactly what the plain NumPy expression gives."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.activations import relu, row_reduce, softmax
from scratch.losses import crossentropy_forward


@pytest.mark.parametrize("shape", [(1, 10), (7, 10), (128, 10), (5, 1), (3, 300)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_reduce_matches_numpy(shape, dtype):
    M = np.random.default_rng(0).normal(size=shape).astype(dtype)
    maxima = row_reduce(np.maximum, M)
    assert maxima.shape == (shape[0], 1) and maxima.dtype == M.dtype
    np.testing.assert_array_equal(maxima, M.max(axis=1, keepdims=True))
    P = np.exp(M)  # what it sums in the loss: positive terms
    sums = row_reduce(np.add, P)
    np.testing.assert_allclose(sums, P.sum(axis=1, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 3), (128, 128), (600, 600)])  # the last is not cached
def test_relu_matches_maximum_and_never_writes_its_zeros(shape):
    rng = np.random.default_rng(1)
    for _ in range(2):  # the second call reuses the cached zeros
        Z = rng.normal(size=shape).astype(np.float32)
        expected = np.maximum(Z, 0)
        out = relu(Z, out=Z)
        assert out is Z
        np.testing.assert_array_equal(Z, expected)
    np.testing.assert_array_equal(relu(np.array([[np.nan, -0.0, 2.0]])), [[np.nan, 0.0, 2.0]])
    Z = -np.ones(shape, np.float32)
    assert not relu(Z).any()  # the zeros it compares against are still zeros


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_prediction_and_training_compute_the_same_softmax(dtype):
    Z = np.random.default_rng(2).normal(scale=5, size=(64, 10)).astype(dtype)
    y = np.arange(64) % 10
    _, P_training = crossentropy_forward(Z.copy(), y)
    np.testing.assert_array_equal(softmax(Z), P_training)


def test_relu_takes_a_plain_list():
    np.testing.assert_array_equal(relu([[1.0, -1.0]]), [[1.0, 0.0]])
