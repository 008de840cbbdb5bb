"""The speed tricks of scratch/conv_speed.py against their plain forms: the 2x2 pool's
forward and backward (ties included), the ReLU mask applied by the pool after it, and
the conv layer's bias gradient as one product.

A layer's gradients are equal exactly, number for number; one difference is in the
sign of zeros: where a pixel gets no gradient, the plain pool adds -0.0 (dA * False,
dA < 0) to a zero and keeps +0.0, the fast one writes the -0.0. The networks'
gradients, losses and weights are equal bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import ModelConfig, Network
from scratch.conv import Conv2D, MaxPooling2D
from scratch.layers import Layer, ReLU


def bits(array: np.ndarray) -> np.ndarray:
    """The array's bytes: equal bits, so +0.0 and -0.0 differ."""
    return np.ascontiguousarray(array).view(np.uint8)


def same_numbers(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal number for number and in dtype (+0.0 equals -0.0)."""
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.all(a == b))


def pools() -> tuple[MaxPooling2D, MaxPooling2D]:
    fast, plain = MaxPooling2D(2), MaxPooling2D(2)
    plain.speed_tricks = False  # this layer uses the plain forms
    return fast, plain


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 6, 8, 4), (2, 7, 5, 3), (2, 2, 2, 1)])
def test_pool2x2_forward_and_backward_equal_the_plain_form(dtype, shape):
    rng = np.random.default_rng(11)
    fast, plain = pools()
    for _ in range(2):  # the second call reuses the first one's arrays
        X = rng.integers(-2, 3, size=shape).astype(dtype)  # windows full of ties
        A_fast, A_plain = fast.forward(X).copy(), plain.forward(X)
        assert np.array_equal(bits(A_fast), bits(A_plain))
        dA = rng.normal(size=A_plain.shape).astype(dtype)  # negative too: signed zeros
        assert same_numbers(fast.backward(dA.copy()), plain.backward(dA.copy()))


def test_pool2x2_backward_routes_ties_to_the_first_position_row_by_row():
    X = np.zeros((1, 4, 4, 1))
    X[0, 0:2, 2:4, 0] = [[1, 5], [5, 5]]  # a three-way tie: (0, 1) takes it
    X[0, 2:4, 0:2, 0] = [[0, 0], [7, 7]]  # a tie in the bottom row: (1, 0)
    fast, _ = pools()
    fast.forward(X)
    dX = fast.backward(np.arange(1.0, 5.0).reshape(1, 2, 2, 1))[0, :, :, 0]
    expected = [[1, 0, 0, 2], [0, 0, 0, 0], [0, 0, 4, 0], [3, 0, 0, 0]]
    np.testing.assert_array_equal(dX, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_mask_in_pool_equals_the_relu_backward(dtype):
    rng = np.random.default_rng(12)
    Z = rng.integers(-2, 3, size=(3, 7, 6, 4)).astype(dtype)  # ties, and windows all <= 0
    relu, (fast, plain) = ReLU(), pools()
    fast.relu_before = True
    A = relu.forward(Z)
    dA = rng.normal(size=(3, 3, 3, 4)).astype(dtype)
    fast.forward(A)
    fused = fast.backward(dA.copy()).copy()
    plain.forward(A)
    dZ = relu.backward(plain.backward(dA.copy()))  # the plain chain
    assert same_numbers(fused, dZ)


STACKS = [
    ("conv4x3", "relu", "pool2", "conv6x3", "relu", "pool2", "flatten", "dense10"),
    ("conv4x3", "relu", "pool3s2", "conv6x3", "tanh", "pool2", "flatten", "dense10"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("stack", STACKS)
def test_networks_with_and_without_the_tricks_give_the_same_bits(stack, dtype, monkeypatch):
    config = ModelConfig(layers=stack, dtype=dtype)
    rng = np.random.default_rng(13)
    x, y = np.round(rng.random((8, 784)) * 2) / 2, rng.integers(0, 10, 8)  # many ties
    fast = Network(config, seed=1)
    fused = [i for i, layer in enumerate(fast.layers) if getattr(layer, "relu_before", False)]
    assert fused == ([2, 5] if stack[4] == "relu" else [])  # relu,pool2 only
    monkeypatch.setattr(Layer, "speed_tricks", False)
    plain = Network(config, seed=1)
    assert not any(getattr(layer, "relu_before", False) for layer in plain.layers)
    monkeypatch.setattr(Layer, "speed_tricks", True)
    for layer in plain.layers:
        layer.speed_tricks = False  # this network's layers alone use the plain forms
    for _ in range(2):  # two steps: the same weights after the first
        loss_fast, grads_fast = fast.loss_and_gradients(x, y)
        loss_plain, grads_plain = plain.loss_and_gradients(x, y)
        assert loss_fast == loss_plain
        for g_fast, g_plain in zip(grads_fast, grads_plain, strict=True):
            assert np.array_equal(bits(g_fast), bits(g_plain))
        fast.train_step(x, y)
        plain.train_step(x, y)
    for w_fast, w_plain in zip(fast.get_weights(), plain.get_weights(), strict=True):
        assert np.array_equal(bits(w_fast), bits(w_plain))


def test_conv_bias_gradient_trick_equals_the_plain_sum():
    layer, rng = Conv2D(5, 3), np.random.default_rng(14)
    layer.build((6, 6, 2), np.dtype("float64"), "glorot_uniform", rng)
    for batch in (3, 5, 3):  # the ones vector follows the number of rows
        layer.forward(rng.normal(size=(batch, 6, 6, 2)))
        dZ = rng.normal(size=(batch, 4, 4, 5))
        layer.backward(dZ, need_dX=False)
        np.testing.assert_allclose(layer.db, dZ.sum(axis=(0, 1, 2)), rtol=1e-13)
