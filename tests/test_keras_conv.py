"""The CNN twin: Conv2D, MaxPooling2D and Flatten in Keras equal the scratch layers,
gradient for gradient and step for step, and round-trip through their files."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")

from keras_baseline import KerasTwin, config_from_model  # noqa: E402
from scratch import ModelConfig, Network  # noqa: E402
from scratch.conv import MaxPooling2D  # noqa: E402

pytestmark = pytest.mark.keras


def max_diff(a, b) -> float:
    return max(
        float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b, strict=True)
    )


STACKS = {
    "valid-1": ("conv4x3", "relu", "pool2", "flatten", "dense10"),
    "same-2": ("conv4x3s2same", "tanh", "conv6x3", "relu", "pool3s2", "flatten", "dense10"),
    "same-1": (
        "conv3x5same",
        "sigmoid",
        "pool2",
        "conv5x3s2",
        "relu",
        "flatten",
        "dense8",
        "relu",
        "dense10",
    ),
}


@pytest.mark.parametrize("name", list(STACKS))
def test_gradients_equal_tensorflows(name):
    config = ModelConfig(layers=STACKS[name], l2=1e-3, dtype="float64")
    network, twin = Network(config, seed=1), KerasTwin(config)
    twin.set_weights(network.get_weights())
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 784)), rng.integers(0, 10, 8)
    loss_s, grads_s = network.loss_and_gradients(x, y)
    loss_k, grads_k = twin.loss_and_gradients(x, y)
    assert abs(loss_s - loss_k) < 1e-13
    assert [g.shape for g in grads_s] == [g.shape for g in grads_k]
    assert max_diff(grads_s, grads_k) < 1e-13


@pytest.mark.parametrize(("pool", "stride"), [(2, 2), (3, 2), (2, 1)])
def test_max_pool_ties_route_the_gradient_as_tensorflow_does(pool, stride):
    rng = np.random.default_rng(2)
    X = rng.integers(0, 3, size=(2, 9, 8, 3)).astype(np.float64)  # ties in most windows
    dA_shape = (2, (9 - pool) // stride + 1, (8 - pool) // stride + 1, 3)
    dA = rng.normal(size=dA_shape)
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        A = tf.nn.max_pool2d(x, pool, stride, "VALID")
    expected = tape.gradient(A, x, output_gradients=tf.constant(dA)).numpy()
    layer = MaxPooling2D(pool, stride)
    np.testing.assert_array_equal(layer.forward(X), A.numpy())
    dX = layer.backward(dA)
    np.testing.assert_array_equal(dX != 0, expected != 0)  # the same positions get gradient
    np.testing.assert_allclose(dX, expected, rtol=1e-15, atol=1e-15)  # overlapping: summed


@pytest.mark.mnist
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_lockstep_float64_cnn_on_real_digits(mnist_small, optimizer):
    config = ModelConfig(
        layers=("conv8x3", "relu", "pool2", "conv8x3", "relu", "pool2", "flatten", "dense10"),
        optimizer=optimizer, learning_rate=0.05 if optimizer == "sgd" else 1e-3,
        dtype="float64",
    )  # fmt: skip
    network, twin = Network(config, seed=0), KerasTwin(config)
    twin.set_weights(network.get_weights())
    x, y = mnist_small.x_train.astype(np.float64), mnist_small.y_train
    for start in range(0, 60 * 32, 32):  # 60 steps
        loss_s = network.train_step(x[start : start + 32], y[start : start + 32])
        loss_k = twin.train_step(x[start : start + 32], y[start : start + 32])
        assert abs(loss_s - loss_k) < 1e-12
    assert max_diff(network.get_weights(), twin.get_weights()) < 1e-12
    test = mnist_small.x_test[:1000].astype(np.float64)
    assert np.array_equal(network.predict(test), twin.predict(test))


def test_cnn_twin_reads_back_and_round_trips_its_file(tmp_path):
    config = ModelConfig(layers=STACKS["same-1"], optimizer="nesterov", learning_rate=0.02,
                         init="he_normal", l2=1e-4, dtype="float32")  # fmt: skip
    twin = KerasTwin(config)
    assert config_from_model(twin.model) == config
    twin.save(tmp_path / "cnn.keras")
    loaded = KerasTwin.load(tmp_path / "cnn.keras")
    assert loaded.config == config
    x = np.random.default_rng(3).random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), twin.predict_proba(x.reshape(4, 784)))


@pytest.mark.mnist
@pytest.mark.slow
def test_a_short_cnn_run_learns_and_reports_and_predicts(mnist_dir, tmp_path, capsys):
    """The real CLI on 2,000 real images: both models learn, the report shows the CNN's
    Keras code, and predict reads a digit with both."""
    import json

    from compare.cli import main

    out = tmp_path / "cnn"
    argv = ["run", "--layers", "conv8x3,relu,pool2,flatten,dense10", "--optimizer", "adam",
            "--batch-size", "32", "--epochs", "2", "--limit-train", "2000",
            "--data-dir", str(mnist_dir), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    accuracies = {name: summary["models"][name]["test_accuracy"] for name in ("scratch", "keras")}
    assert min(accuracies.values()) > 0.85, accuracies
    assert summary["agreement"]["prediction_agreement"] > 0.98
    report = (out / "report.md").read_text()
    assert 'keras.layers.Conv2D(8, 3, activation="relu")' in report and "im2col" in report
    assert "Trainable parameters: Scratch (NumPy) 13,610; Keras 13,610." in report
    for figure in ("first_layer_filters", "feature_maps"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000
    import cv2

    digit = (255 - (np.load(out / "examples.npz")["image"][0])).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "digit.png"), digit)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "digit.png"), "--run", str(out), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {"scratch", "keras"} <= set(json.dumps(answer).replace('"', " ").split())


def test_the_convnet_dropout_twin_builds_and_reads_back():
    from compare.presets import preset_layer
    from compare.runconfig import resolve
    from reports.keras_code import keras_lines

    run = resolve(preset_layer("convnet-dropout"))
    assert run.mode == "independent"
    twin = KerasTwin(run.model)
    kinds = [type(layer).__name__ for layer in twin.model.layers[1:]]
    assert kinds[-2:] == ["Dropout", "Dense"]
    assert config_from_model(twin.model) == run.model
    assert "keras.layers.Dropout(0.5)" in keras_lines(run.model.to_dict(), {})["Forward pass"]
