"""The CNN rows of `mnist-compare check`: kink flips, the twin's view of the kinks, and
the single-layer comparison that proves max-pool ties route as TensorFlow routes them."""

from __future__ import annotations

import numpy as np
import pytest

from compare.check_kinks import _pool_flip, _relu_flip, scratch_kink_inputs
from scratch.config import ModelConfig
from scratch.conv import MaxPooling2D
from scratch.network import Network


def test_a_relu_flip_is_the_smallest_z_on_opposite_sides():
    Z_s = np.array([[0.5, 1e-7, -2.0], [3e-8, -1.0, 0.0]])
    Z_k = np.array([[0.5, -1e-7, -2.0], [-1e-9, -1.0, 0.0]])
    assert _relu_flip(Z_s, Z_k) == pytest.approx(3e-8)
    assert _relu_flip(Z_s, Z_s) is None


def test_a_pool_flip_is_the_gap_between_the_maxima_the_models_chose():
    pool = MaxPooling2D(2)
    X_s = np.zeros((1, 2, 4, 1))
    X_s[0, :, :2, 0] = [[1.0, 1.0 + 1e-9], [0.0, 0.0]]  # window 1: the max is position 2
    X_s[0, :, 2:, 0] = [[5.0, 1.0], [2.0, 0.0]]
    X_k = X_s.copy()
    X_k[0, 0, 1, 0] = 1.0 - 1e-9  # rounded the other way: the max is position 1
    assert _pool_flip(pool, X_s, X_k) == pytest.approx(1e-9)
    assert _pool_flip(pool, X_s, X_s) is None
    tied = np.ones((1, 2, 2, 1))  # a tie in both: both take the first, no flip
    assert _pool_flip(pool, tied, tied.copy()) is None


@pytest.mark.keras
def test_the_twin_sees_the_same_kink_inputs_as_scratch():
    from keras_baseline.twin import KerasTwin

    layers = ("conv4x3", "relu", "pool2", "relu", "conv4x3s2same", "relu", "flatten")
    config = ModelConfig(layers=(*layers, "dense8", "relu", "dense10"), dtype="float64")
    network, twin = Network(config, seed=2), KerasTwin(config)
    twin.set_weights(network.get_weights())
    x = np.random.default_rng(0).random((5, 784))
    scratch_inputs = scratch_kink_inputs(network, x)
    keras_inputs = twin.kink_inputs(x)
    where = [name for name, _, _ in scratch_inputs]
    assert where == ["relu (layer 2)", "pool2 (layer 3)", "relu (layer 4)", "relu (layer 6)",
                     "relu (layer 9)"]  # fmt: skip
    assert [kind for kind, _ in keras_inputs] == ["relu", "pool", "relu", "relu", "relu"]
    for (_, A_s, _), (_, A_k) in zip(scratch_inputs, keras_inputs, strict=True):
        np.testing.assert_allclose(A_s, A_k, rtol=0, atol=1e-14)


@pytest.mark.keras
@pytest.mark.parametrize("spec", ["pool2", "pool3s2"])
def test_the_layer_row_fails_a_pool_that_routes_ties_to_the_last_max(spec, monkeypatch):
    from compare.check_cnn import layer_row

    x = np.random.default_rng(1).random((4, 784))
    good = layer_row(spec, x)
    assert good["passed"] and good["tied_windows"] > 0.3, good

    def last_max_backward(self, dA, need_dX=True):  # a common bug: ties go to the last max
        dX = np.zeros_like(self.X)
        Ho, Wo = dA.shape[1:3]
        taken = np.zeros(dA.shape, bool)
        views = zip(self.window_views(self.X, Ho, Wo), self.window_views(dX, Ho, Wo), strict=True)
        for X_window, dX_window in reversed(list(views)):
            first = (X_window == self.A) & ~taken
            taken |= first
            dX_window += dA * first
        return dX

    monkeypatch.setattr(MaxPooling2D, "backward", last_max_backward)
    bad = layer_row(spec, x)
    assert not bad["passed"] and bad["relative_error"] > 0.1, bad


@pytest.mark.mnist
def test_finite_differences_skip_samples_that_straddle_a_kink(mnist_small):
    from compare.check_cnn import off_the_kink
    from compare.check_gradients import finite_difference_error

    config = ModelConfig(layers=("conv2x3", "relu", "pool2", "flatten", "dense10"),
                         dtype="float64")  # fmt: skip
    network = Network(config, seed=0)
    x, y = mnist_small.x_train[:4].astype(np.float64), mnist_small.y_train[:4]
    # Zero biases: every unit over the blank background has Z = 0 exactly, on the kink,
    # so every bias sample straddles it; an array with no usable sample fails (NaN).
    error, skipped = finite_difference_error(network, x, y)
    assert np.isnan(error) and skipped >= 2
    network.set_weights(off_the_kink(network.get_weights()))
    error, skipped = finite_difference_error(network, x, y)
    assert error < 1e-7 and skipped < 5
