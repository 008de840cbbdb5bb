"""Conv2D, MaxPooling2D and Flatten against direct loops written here, and their
backward passes against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import ModelConfig, Network
from scratch.conv import Conv2D, Flatten, MaxPooling2D
from scratch.gradcheck import TOLERANCE, relative_errors


def conv_by_loops(X, W, b, stride, padding):
    """The definition, one output number at a time."""
    k, F = W.shape[0], W.shape[3]
    if padding == "same":
        pads = []
        for size in X.shape[1:3]:
            out = -(-size // stride)
            total = max((out - 1) * stride + k - size, 0)
            pads.append((total // 2, total - total // 2))
        X = np.pad(X, ((0, 0), pads[0], pads[1], (0, 0)))
    Ho, Wo = (X.shape[1] - k) // stride + 1, (X.shape[2] - k) // stride + 1
    Z = np.zeros((len(X), Ho, Wo, F))
    for n in range(len(X)):
        for i in range(Ho):
            for j in range(Wo):
                window = X[n, i * stride : i * stride + k, j * stride : j * stride + k, :]
                for f in range(F):
                    Z[n, i, j, f] = np.sum(window * W[:, :, :, f]) + b[f]
    return Z


def built_conv(filters, kernel, stride, padding, shape, dtype="float64", seed=0):
    layer = Conv2D(filters, kernel, stride, padding)
    rng = np.random.default_rng(seed)
    layer.build(shape, np.dtype(dtype), "glorot_uniform", rng)
    layer.b[:] = rng.normal(size=filters)
    return layer


CASES = [(1, "valid"), (2, "valid"), (1, "same"), (2, "same")]


@pytest.mark.parametrize(("stride", "padding"), CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_forward_equals_the_loops(stride, padding, dtype):
    layer = built_conv(4, 3, stride, padding, (7, 6, 2), dtype)
    X = np.random.default_rng(1).normal(size=(3, 7, 6, 2)).astype(dtype)
    Z = layer.forward(X)
    assert Z.dtype == np.dtype(dtype) and Z.shape == (3, *layer.output_shape((7, 6, 2)))
    expected = conv_by_loops(
        X.astype(np.float64), layer.W.astype(np.float64), layer.b, stride, padding
    )
    np.testing.assert_allclose(Z, expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)


def numeric_gradient(f, A, h=1e-6):
    grad = np.zeros_like(A)
    for index in np.ndindex(A.shape):
        saved = A[index]
        A[index] = saved + h
        plus = f()
        A[index] = saved - h
        minus = f()
        A[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize(("stride", "padding"), CASES)
def test_conv_backward_is_the_gradient(stride, padding):
    layer = built_conv(3, 3, stride, padding, (6, 5, 2))
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2, 6, 5, 2))
    dZ = rng.normal(size=(2, *layer.output_shape((6, 5, 2))))

    def loss():
        return float(np.sum(layer.forward(X) * dZ))

    numeric = [numeric_gradient(loss, A) for A in (X, layer.W, layer.b)]
    layer.forward(X)
    dX = layer.backward(dZ)
    for analytic, expected in zip((dX, layer.dW, layer.db), numeric, strict=True):
        np.testing.assert_allclose(analytic, expected, rtol=1e-6, atol=1e-8)


def pool_by_loops(X, p, s):
    Ho, Wo = (X.shape[1] - p) // s + 1, (X.shape[2] - p) // s + 1
    A = np.zeros((len(X), Ho, Wo, X.shape[3]))
    dX_rule = np.zeros_like(X)  # where each window's gradient goes: its first maximum
    for n in range(len(X)):
        for i in range(Ho):
            for j in range(Wo):
                for c in range(X.shape[3]):
                    window = X[n, i * s : i * s + p, j * s : j * s + p, c]
                    A[n, i, j, c] = window.max()
                    di, dj = np.unravel_index(np.argmax(window), window.shape)  # first, row-major
                    dX_rule[n, i * s + di, j * s + dj, c] += 1
    return A, dX_rule


@pytest.mark.parametrize(("pool", "stride"), [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_pool_forward_and_routing_equal_the_loops_with_ties(pool, stride):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(2, 7, 8, 3)).astype(np.float64)  # many ties
    layer = MaxPooling2D(pool, stride)
    A = layer.forward(X)
    expected, routing = pool_by_loops(X, pool, stride)
    np.testing.assert_array_equal(A, expected)
    np.testing.assert_array_equal(layer.backward(np.ones_like(A)), routing)


def test_flatten_is_channels_last_and_its_backward_is_a_reshape():
    X = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    layer = Flatten()
    np.testing.assert_array_equal(layer.forward(X), X.reshape(2, 60))
    assert layer.output_shape((3, 4, 5)) == (60,)
    np.testing.assert_array_equal(layer.backward(X.reshape(2, 60)), X)


@pytest.mark.parametrize(
    "stack",
    [
        ("conv3x3", "relu", "pool2", "flatten", "dense4"),
        (
            "conv2x3s2same",
            "tanh",
            "conv3x2",
            "sigmoid",
            "pool2s1",
            "flatten",
            "dense5",
            "relu",
            "dense4",
        ),
    ],
)
def test_a_small_cnn_passes_the_gradient_check(stack):
    config = ModelConfig(input_size=64, output_size=4, layers=stack, l2=1e-3, dtype="float64")
    assert config.input_shape == (8, 8, 1)
    assert max(relative_errors(config, seed=4, batch=3)) <= TOLERANCE


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cnn_keeps_its_dtype_takes_rows_or_images_and_round_trips_a_file(dtype, tmp_path):
    config = ModelConfig(layers=("conv4x3", "relu", "pool2", "flatten", "dense10"), dtype=dtype)
    network = Network(config, seed=0)
    rng = np.random.default_rng(5)
    rows, y = rng.random((6, 784)), rng.integers(0, 10, 6)
    images = rows.reshape(6, 28, 28, 1)
    np.testing.assert_array_equal(network.predict_proba(rows), network.predict_proba(images))
    network.train_step(rows, y)
    assert {p.dtype for p in network.get_weights()} == {np.dtype(dtype)}
    network.save(tmp_path / "cnn.npz")
    loaded = Network.load(tmp_path / "cnn.npz")
    assert loaded.config == config and loaded.describe().startswith("28x28x1 conv4x3,relu")
    np.testing.assert_array_equal(loaded.predict_proba(images), network.predict_proba(images))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 28, 28, 1\), got \(6, 783\)"):
        network.predict(rows[:, :783])


@pytest.mark.parametrize("stride", [1, 2])
def test_col2im_by_offsets_equals_the_plain_form(stride):
    """The speed trick (one kernel offset at a time) against dZ @ W.T laid out as
    windows and added back window by window."""
    from scratch.conv import col2im

    rng = np.random.default_rng(8)
    k, C, F, N, Ho, Wo = 3, 4, 5, 2, 4, 3
    W, dZ = rng.normal(size=(k, k, C, F)), rng.normal(size=(N * Ho * Wo, F))
    Hp, Wp = (Ho - 1) * stride + k, (Wo - 1) * stride + k
    out = np.empty((N, Hp, Wp, C))
    col2im(dZ, W, stride, out=out, share=np.empty((N, Ho, Wo, C)))
    windows = (dZ @ W.reshape(-1, F).T).reshape(N, Ho, Wo, k, k, C)  # the plain form
    expected = np.zeros_like(out)
    for i in range(Ho):
        for j in range(Wo):
            expected[:, i * stride : i * stride + k, j * stride : j * stride + k, :] += windows[
                :, i, j
            ]
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
