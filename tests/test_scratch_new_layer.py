"""A new layer type is one class plus its spec entry: defined only here, it trains,
saves, loads and passes the gradient check with no edit to the model, optimizer,
serialization, gradient-check or training code. And the package docstring's example runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratch
from scratch import Layer, ModelConfig, Network, register_layer
from scratch.gradcheck import TOLERANCE, relative_errors
from scratch.layers import LAYER_TYPES


class Scale(Layer):
    """A = X * s: one learnable scale per unit (s starts at 1)."""

    param_names, grad_names = ("s",), ("ds",)

    def build(self, input_shape, dtype, init, rng):
        self.s = np.ones(input_shape, dtype)  # (units,)
        self.ds = np.zeros_like(self.s)
        return input_shape

    def forward(self, X):
        self.X = X  # (batch, units)
        return X * self.s

    def backward(self, dA, need_dX=True):
        self.ds[...] = (dA * self.X).sum(axis=0)  # ds = sum over the batch of dA * X
        return dA * self.s if need_dX else None  # dX = dA * s


@pytest.fixture
def scale_layer(monkeypatch):
    monkeypatch.setitem(LAYER_TYPES, "scale", Scale)
    register_layer("scale", Scale)
    yield
    # monkeypatch restores LAYER_TYPES


def test_a_layer_defined_in_a_test_trains_saves_loads_and_passes_gradcheck(scale_layer, tmp_path):
    config = ModelConfig(
        input_size=6, output_size=4, layers=("dense5", "scale", "tanh", "dense4"),
        optimizer="adam", learning_rate=0.01, l2=1e-3, dtype="float64",
    )  # fmt: skip
    assert config.describe() == "6 dense5,scale,tanh,dense4/crossentropy float64"
    assert max(relative_errors(config, seed=3)) <= TOLERANCE
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6)), rng.integers(0, 4, size=64)
    network = Network(config, seed=1)
    assert [w.shape for w in network.get_weights()] == [(6, 5), (5,), (5,), (5, 4), (4,)]
    history = network.fit(x, y, batch_size=8, epochs=20, seed=0)
    assert history[-1] < 0.8 * history[0]
    assert not np.allclose(network.get_weights()[2], 1.0)  # the scales were trained too
    network.save(tmp_path / "scaled.npz")
    loaded = Network.load(tmp_path / "scaled.npz")
    assert loaded.config == config
    np.testing.assert_array_equal(loaded.predict_proba(x), network.predict_proba(x))


def test_a_layer_without_keras_twin_is_a_one_line_error(scale_layer):
    pytest.importorskip("keras")
    from keras_baseline.build import keras_layers

    config = ModelConfig(input_size=6, output_size=4, layers=("dense5", "scale", "dense4"))
    with pytest.raises(ValueError, match="layer 'scale' has no Keras twin"):
        keras_layers(config)


@pytest.mark.mnist
@pytest.mark.slow
def test_the_package_docstring_example_runs(mnist_dir, tmp_path):
    """scratch/__init__.py's example, as a learner would paste it."""
    doc = scratch.__doc__
    example = doc[doc.index("    from compare.data") :].splitlines()
    code = "\n".join(line[4:] for line in example if line.startswith("    ") or not line.strip())
    env = {**os.environ, "MNIST_DATA_DIR": str(mnist_dir)}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(root)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("epoch 1: training loss") and lines[1].startswith("epoch 2:")
    accuracy = float(lines[2].split()[-1].rstrip("%")) / 100
    assert accuracy > 0.95, lines
    assert (tmp_path / "mlp.npz").is_file()
