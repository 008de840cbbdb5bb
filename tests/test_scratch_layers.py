"""Each layer's backward pass against finite differences of its forward pass, and each
speed trick against its plain form."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.config import ConfigError
from scratch.layers import Dense, ReLU, Sigmoid, Tanh, make_layer
from scratch.losses import SigmoidMSE, SoftmaxCrossEntropy, batch_mean, row_reduce


def numeric_input_gradient(layer, X, dY, h=1e-6):
    """d(sum(forward(X) * dY))/dX by centred differences."""
    grad = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        plus, minus = X.copy(), X.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (np.sum(layer.forward(plus) * dY) - np.sum(layer.forward(minus) * dY)) / (
            2 * h
        )
    return grad


@pytest.mark.parametrize("layer_type", [ReLU, Sigmoid, Tanh])
def test_activation_backward_is_the_derivative(layer_type):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 5)) + 0.01  # keep ReLU inputs off the kink
    dY = rng.normal(size=(4, 5))
    layer = layer_type()
    numeric = numeric_input_gradient(layer, X, dY)
    layer.forward(X.copy())
    np.testing.assert_allclose(layer.backward(dY.copy()), numeric, rtol=1e-6, atol=1e-9)


def test_dense_forward_and_backward_are_the_formulas():
    rng = np.random.default_rng(1)
    layer = Dense(3)
    assert layer.build((5,), np.dtype("float64"), "glorot_uniform", rng) == (3,)
    layer.b[:] = rng.normal(size=3)
    X, dZ = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(layer.forward(X), X @ layer.W + layer.b, rtol=1e-14)
    dX = layer.backward(dZ)
    np.testing.assert_allclose(layer.dW, X.T @ dZ, rtol=1e-14)
    np.testing.assert_allclose(layer.db, dZ.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(dX, dZ @ layer.W.T, rtol=1e-14)
    np.testing.assert_allclose(dX, numeric_input_gradient(layer, X, dZ), rtol=1e-7)
    layer.forward(X)
    assert layer.backward(dZ, need_dX=False) is None


@pytest.mark.parametrize("pair", [SoftmaxCrossEntropy, SigmoidMSE])
def test_output_pair_backward_is_the_gradient_of_the_batch_mean(pair):
    rng = np.random.default_rng(2)
    Z, y, h = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6), 1e-6
    numeric = np.zeros_like(Z)
    for index in np.ndindex(Z.shape):
        plus, minus = Z.copy(), Z.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = (
            batch_mean(pair().forward(plus, y)) - batch_mean(pair().forward(minus, y))
        ) / (2 * h)
    output = pair()
    output.forward(Z.copy(), y)
    np.testing.assert_allclose(output.backward(), numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_prediction_and_training_compute_the_same_probabilities(dtype):
    Z = np.random.default_rng(3).normal(scale=5, size=(64, 10)).astype(dtype)
    y = np.arange(64) % 10
    for pair in (SoftmaxCrossEntropy, SigmoidMSE):
        output = pair()
        output.forward(Z.copy(), y)
        np.testing.assert_array_equal(pair.probabilities(Z.copy()), output.P)
    P = SoftmaxCrossEntropy.probabilities(Z.astype(np.float64))  # the textbook softmax
    E = np.exp(Z.astype(np.float64) - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(P, E / E.sum(axis=1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("shape", [(1, 10), (7, 10), (128, 10), (5, 1), (3, 300)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_reduce_trick_equals_the_plain_reduction(shape, dtype):
    M = np.random.default_rng(0).normal(size=shape).astype(dtype)
    maxima = row_reduce(np.maximum, M)
    assert maxima.shape == (shape[0], 1) and maxima.dtype == M.dtype
    np.testing.assert_array_equal(maxima, M.max(axis=1, keepdims=True))
    P = np.exp(M)  # what it sums in the loss: positive terms
    np.testing.assert_allclose(row_reduce(np.add, P), P.sum(axis=1, keepdims=True), rtol=1e-5)


def test_relu_keeps_nan_and_zeroes_negative_zero():
    layer = ReLU()
    np.testing.assert_array_equal(
        layer.forward(np.array([[np.nan, -0.0, 2.0, -1.0]])), [[np.nan, 0.0, 2.0, 0.0]]
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "swish",
            "unknown layer 'swish'; layers are: denseN, relu, sigmoid, tanh, dropoutR, convFxK",
        ),
        ("conv", "conv needs FILTERSxKERNEL"),
        ("conv32x3s0", "conv needs FILTERSxKERNEL"),
        ("pool", "pool needs POOL"),
        ("flatten2", "layer flatten takes no argument"),
        ("dense", "dense needs a positive number of units"),
        ("dense0", "dense needs a positive number of units, e.g. dense128, got 'dense0'"),
        ("relu6", "layer relu takes no argument"),
        ("Dense128", "unknown layer"),
    ],
)
def test_bad_layer_specs_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_layer(spec)


def test_dense_on_an_image_is_refused_with_the_shape():
    with pytest.raises(ConfigError, match=r"dense10 needs flat inputs .*got shape \(28, 28, 1\)"):
        Dense(10).output_shape((28, 28, 1))


@pytest.mark.parametrize("shape", [(4, 3), (128, 128), (3, 5)])
def test_relu_zeros_trick_equals_the_plain_maximum_and_its_zeros_stay_zero(shape):
    layer, rng = ReLU(), np.random.default_rng(5)
    for _ in range(2):  # the second call reuses the zeros
        Z = rng.normal(size=shape).astype(np.float32)
        expected, given = np.maximum(Z, 0), Z.copy()
        np.testing.assert_array_equal(layer.forward(Z), expected)
        np.testing.assert_array_equal(Z, given)  # its input is left alone
        layer.backward(rng.normal(size=shape).astype(np.float32))
    assert not layer.zeros(Z).any()


def test_dense_bias_gradient_trick_equals_the_plain_sum():
    layer, rng = Dense(7), np.random.default_rng(6)
    layer.build((5,), np.dtype("float64"), "he_normal", rng)
    for batch in (4, 9, 4):  # the ones vector follows the batch size
        layer.forward(rng.normal(size=(batch, 5)))
        dZ = rng.normal(size=(batch, 7))
        layer.backward(dZ, need_dX=False)
        np.testing.assert_allclose(layer.db, dZ.sum(axis=0), rtol=1e-13)


@pytest.mark.parametrize(
    "stack",
    [
        ("dense5", "sigmoid", "sigmoid", "dense4"),
        ("dense5", "relu", "sigmoid", "dense4"),
        ("dense5", "sigmoid", "tanh", "dense4"),
        ("tanh", "dense5", "relu", "dense4"),
        ("dense5", "dense5", "tanh", "dense4"),
    ],
)
def test_any_order_of_layers_passes_the_gradient_check_and_leaves_x_alone(stack):
    from scratch import ModelConfig, Network
    from scratch.gradcheck import TOLERANCE, relative_errors

    config = ModelConfig(input_size=6, output_size=4, layers=stack, dtype="float64")
    assert max(relative_errors(config, seed=2)) <= TOLERANCE
    network, rng = Network(config, seed=0), np.random.default_rng(1)
    x, y = rng.normal(size=(8, 6)), rng.integers(0, 4, size=8)
    given = x.copy()
    first = network.evaluate(x, y)
    network.predict_proba(x)
    network.loss_and_gradients(x, y)
    network.train_step(x, y)
    np.testing.assert_array_equal(x, given)
    network.set_weights(Network(config, seed=0).get_weights())
    assert network.evaluate(x, y) == first


def test_dropout_masks_only_while_training_and_scales_what_it_keeps():
    from scratch.layers import Dropout

    layer = Dropout(0.25)
    layer.build((1000,), np.dtype("float64"), "glorot_uniform", np.random.default_rng(0))
    X = np.ones((20, 1000))
    np.testing.assert_array_equal(layer.forward(X), X)  # inference: identity
    np.testing.assert_array_equal(layer.backward(X), X)
    layer.training = True
    A = layer.forward(X)
    kept = A != 0
    assert abs(kept.mean() - 0.75) < 0.01 and np.allclose(A[kept], 1 / 0.75)
    dA = np.random.default_rng(1).normal(size=X.shape)
    np.testing.assert_allclose(layer.backward(dA), dA * A)  # the same mask, the same scale
    assert not np.array_equal(layer.forward(X) != 0, kept)  # a new mask every step
    with pytest.raises(ConfigError, match="dropout needs a rate in"):
        make_layer("dropout1.5")


def test_a_network_with_dropout_trains_checks_its_gradients_and_refuses_lockstep():
    from compare.runconfig import resolve
    from scratch import ModelConfig, Network
    from scratch.gradcheck import TOLERANCE, relative_errors

    stack = ("dense8", "relu", "dropout0.5", "dense4")
    config = ModelConfig(input_size=6, output_size=4, layers=stack, dtype="float64")
    assert max(relative_errors(config, seed=1)) <= TOLERANCE  # dropout is off outside training
    network, rng = Network(config, seed=0), np.random.default_rng(2)
    x, y = rng.normal(size=(64, 6)), rng.integers(0, 4, size=64)
    history = network.fit(x, y, batch_size=8, epochs=30, seed=0)
    assert history[-1] < history[0]
    layers = {"model": {"layers": ["dense8", "relu", "dropout0.5", "dense10"]}}
    with pytest.raises(ConfigError, match="cannot train in lockstep: add --mode independent"):
        resolve(layers)
    assert resolve(layers, {"mode": "independent"}).model.layer_specs[2] == "dropout0.5"
