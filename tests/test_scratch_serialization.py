"""save/load: bit-exact round trips, and one-line errors for every bad file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratch.config import ModelConfig
from scratch.network import Network
from scratch.serialization import FORMAT_VERSION, ModelFileError

CONFIG = ModelConfig(input_size=12, hidden_sizes=(8,), output_size=10, optimizer="adam")


def trained(config: ModelConfig = CONFIG) -> Network:
    network = Network(config, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        network.train_step(rng.random((16, 12)), rng.integers(0, 10, 16))
    return network


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    config = ModelConfig(**{**CONFIG.to_dict(), "dtype": dtype, "l2": 1e-4})
    network = trained(config)
    path = tmp_path / "model.npz"
    network.save(path)
    loaded = Network.load(path)
    assert loaded.config == network.config
    for a, b in zip(network.get_weights(), loaded.get_weights(), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(1).random((5, 12)).astype(dtype)
    np.testing.assert_array_equal(network.predict_proba(x), loaded.predict_proba(x))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temp file left behind


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "model.npz"
    trained().save(path)
    Network(CONFIG, seed=9).save(path)
    np.testing.assert_array_equal(Network.load(path).params[0], Network(CONFIG, seed=9).params[0])
    assert len(list(tmp_path.iterdir())) == 1


def test_file_holds_no_pickles(tmp_path):
    path = tmp_path / "model.npz"
    trained().save(path)
    with np.load(path, allow_pickle=False) as npz:
        assert int(npz["format_version"]) == FORMAT_VERSION
        assert json.loads(str(npz["config"])) == CONFIG.to_dict()
        assert all(npz[name].dtype != object for name in npz.files)


def assert_one_line_error(path, match, **kwargs):
    with pytest.raises(ModelFileError, match=match) as caught:
        Network.load(path, **kwargs)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_truncated_file(tmp_path):
    path = tmp_path / "model.npz"
    trained().save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert_one_line_error(path, "not a readable scratch model")


@pytest.mark.parametrize("content", [b"hello, not a model\n", b"", b"\x80\x04K\x01."])
def test_not_an_npz(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    assert_one_line_error(path, "not a readable scratch model")


def test_missing_file(tmp_path):
    assert_one_line_error(tmp_path / "nope.npz", "no such model file")


def test_other_architecture_is_refused_when_expected(tmp_path):
    path = tmp_path / "model.npz"
    trained().save(path)
    other = ModelConfig(**{**CONFIG.to_dict(), "hidden_sizes": [16]})
    assert_one_line_error(path, "saved for 12-8-10 .*expected 12-16-10", expect=other)
    assert Network.load(path, expect=CONFIG).config == CONFIG


def test_weights_that_do_not_fit_the_config(tmp_path):
    path = tmp_path / "model.npz"
    weights = Network(CONFIG, seed=0).get_weights()
    weights[2] = np.zeros((9, 10), np.float32)
    arrays = {f"w{i}": w for i, w in enumerate(weights)}
    config = json.dumps(CONFIG.to_dict())
    np.savez(path, format_version=np.array(FORMAT_VERSION), config=np.array(config), **arrays)
    assert_one_line_error(path, r"weight w2 is float32 \(9, 10\), expected float32 \(8, 10\)")


def test_other_format_version_and_bad_config(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, format_version=np.array(99), config=np.array("{}"))
    assert_one_line_error(path, "format version 99")
    np.savez(path, format_version=np.array(FORMAT_VERSION), config=np.array('{"colour": 1}'))
    assert_one_line_error(path, "bad model config")
    np.savez(path, something=np.zeros(3))
    assert_one_line_error(path, "not a scratch model file")


def test_a_version_1_file_from_before_the_layer_library_loads(tmp_path):
    """Exactly what Network.save wrote before the layer library (format 1, no `layers`)."""
    rng = np.random.default_rng(3)
    weights = [rng.normal(size=(6, 5)), rng.normal(size=5), rng.normal(size=(5, 4)), np.zeros(4)]
    config = (
        '{"activation": "relu", "beta_1": 0.9, "beta_2": 0.999, "dtype": "float64", '
        '"epsilon": 1e-07, "hidden_sizes": [5], "init": "glorot_uniform", "input_size": 6, '
        '"l2": 0.0, "learning_rate": 0.1, "loss": "crossentropy", "lr_decay": 0.0, '
        '"momentum": 0.9, "optimizer": "sgd", "output_size": 4}'
    )
    path = tmp_path / "old.npz"
    arrays = {f"w{i}": w for i, w in enumerate(weights)}
    np.savez(path, format_version=np.array(1), config=np.array(config), **arrays)
    network = Network.load(path)
    assert network.describe() == "6-5-4 relu/crossentropy float64"
    x = rng.normal(size=(3, 6))
    Z = np.maximum(x @ weights[0] + weights[1], 0) @ weights[2] + weights[3]
    expected = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(network.predict_proba(x), expected, rtol=1e-12)
    network.save(path)  # written again: format 2
    with np.load(path) as npz:
        assert int(npz["format_version"]) == FORMAT_VERSION == 2
