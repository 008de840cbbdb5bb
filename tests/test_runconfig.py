"""Run config: layers, precedence, presets, TOML round trip and validation."""

from __future__ import annotations

import tomllib

import pytest

from compare.presets import PRESETS, TEXTBOOK_LR, preset_layer
from compare.runconfig import (
    DEFAULT_LEARNING_RATE,
    RunConfig,
    load_toml,
    parse_hidden,
    resolve,
    to_toml,
)
from scratch.config import ConfigError, ModelConfig


def test_defaults_match_the_documented_run():
    config = resolve()
    assert config.model.layer_sizes == (784, 128, 10)
    assert (config.model.activation, config.model.optimizer) == ("relu", "sgd")
    assert config.model.learning_rate == 0.1 and config.model.dtype == "float32"
    assert (config.batch_size, config.epochs, config.seed, config.seeds) == (32, 10, 0, 1)
    assert config.mode == "lockstep" and config.models == ("scratch", "keras")
    assert config.data.val_size == 5000 and config.data.verify and config.lockstep


@pytest.mark.parametrize("optimizer", sorted(DEFAULT_LEARNING_RATE))
def test_learning_rate_defaults_per_optimizer(optimizer):
    config = resolve({"model": {"optimizer": optimizer}})
    assert config.model.learning_rate == DEFAULT_LEARNING_RATE[optimizer]


def test_precedence_defaults_preset_file_flags():
    file_layer = {"epochs": 5, "batch_size": 20, "model": {"learning_rate": 2.0}}
    flags = {"epochs": 2}
    config = resolve(preset_layer("textbook"), file_layer, flags)
    assert config.epochs == 2  # flag beats file
    assert config.batch_size == 20  # file beats preset
    assert config.model.learning_rate == 2.0  # file beats preset
    assert config.model.hidden_sizes == (30,)  # preset beats default
    assert config.model.activation == "sigmoid" and config.preset == "textbook"
    # an explicit optimizer flag keeps the preset's lr (no per-optimizer default then)
    assert resolve(
        preset_layer("textbook"), {"model": {"optimizer": "adam"}}
    ).model.learning_rate == (TEXTBOOK_LR)


def test_textbook_lr_is_nielsen_eta_times_five():
    # Nielsen: 1/2 * sum over 10 outputs; Keras MSE: mean over 10 outputs -> gradient / 5.
    assert pytest.approx(15.0) == TEXTBOOK_LR
    textbook = resolve(preset_layer("textbook"))
    assert textbook.model.layer_sizes == (784, 30, 10)
    assert (textbook.model.loss, textbook.model.init) == ("mse", "normal")
    assert (textbook.batch_size, textbook.epochs) == (10, 30)


def test_every_preset_resolves():
    for name in PRESETS:
        assert resolve(preset_layer(name)).preset == name
    assert resolve(preset_layer("high-accuracy")).model.hidden_sizes == (1024,)
    assert resolve(preset_layer("seed-project")).batch_size == 32


def test_preset_layer_is_a_copy():
    layer = preset_layer("seed-project")
    layer["model"]["hidden_sizes"] = [1]
    assert PRESETS["seed-project"]["model"]["hidden_sizes"] == [128]


def test_toml_round_trip_is_exact(tmp_path):
    config = resolve(
        preset_layer("high-accuracy"),
        {
            "seeds": 3,
            "mode": "independent",
            "models": ["keras"],
            "model": {"hidden_sizes": [256, 64], "l2": 1e-4, "dtype": "float64", "epsilon": 1e-7},
            "data": {"data_dir": 'C:\\odd "dir"', "limit_train": 1234, "standardize": True},
        },
    )
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config, header="a comment\nsecond line"))
    assert tomllib.loads(path.read_text())["model"]["l2"] == 1e-4
    again = resolve(load_toml(path))
    assert again == config
    assert to_toml(again) == to_toml(config)


def test_round_trip_of_defaults_keeps_lr(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(to_toml(resolve({"model": {"optimizer": "adam"}})))
    assert resolve(load_toml(path)).model.learning_rate == 0.001


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"epochs": 0}, "epochs must be a whole number >= 1"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"seed": -1}, "seed must be"),
        ({"mode": "both"}, "unknown mode"),
        ({"models": []}, "models must be one or both"),
        ({"models": ["scratch", "scratch"]}, "twice"),
        ({"data": {"val_size": 60000}}, "val_size"),
        ({"data": {"verify": "yes"}}, "true or false"),
        ({"data": {"bogus": 1}}, "unknown key"),
        ({"bogus": 1}, "unknown key"),
        ({"model": {"learning_rate": 0}}, "learning_rate"),
        ({"model": {"hidden_sizes": [10, 0]}}, "hidden_sizes"),
        ({"model": {"optimizer": "rmsprop"}}, "unknown optimizer"),
    ],
)
def test_bad_values_raise_one_line_config_errors(layer, message):
    with pytest.raises(ConfigError, match=message) as info:
        resolve(layer)
    assert "\n" not in str(info.value)


def test_load_toml_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)
    bad.write_text("[model]\nhidden = [3]\n")
    with pytest.raises(ConfigError, match=r"\[model\] unknown key\(s\) hidden"):
        load_toml(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_toml(tmp_path / "missing.toml")


def test_models_accepts_comma_string_and_keeps_canonical_order():
    config = RunConfig(models="keras,scratch")
    assert config.models == ("scratch", "keras")
    assert not RunConfig(models=("keras",)).lockstep


def test_parse_hidden():
    assert parse_hidden("256, 128") == [256, 128]
    for bad in ("", "0", "12,x", "-3", "1.5"):
        with pytest.raises(ConfigError, match="--hidden"):
            parse_hidden(bad)


def test_tag_names_the_architecture():
    config = RunConfig(model=ModelConfig(hidden_sizes=(64, 32)), epochs=3)
    assert config.tag() == "784-64-32-10-relu-sgd-e3"


def test_layers_from_a_later_layer_replace_the_hidden_shorthand_and_back():
    from compare.runconfig import resolve

    preset = {"model": {"hidden_sizes": [30], "activation": "sigmoid", "loss": "mse"}}
    stack = {"model": {"layers": ["dense64", "tanh", "dense32", "relu", "dense10"]}}
    config = resolve(preset, stack)
    assert config.model.layer_specs == tuple(stack["model"]["layers"])
    assert config.model.loss == "mse"  # the rest of the preset stays
    back = resolve(stack, {"model": {"hidden_sizes": [16]}})
    assert back.model.layers == () and back.model.hidden_sizes == (16,)
    assert resolve(stack).model.describe() == (
        "784 dense64,tanh,dense32,relu,dense10/crossentropy float32"
    )
    mlp = resolve({"model": {"layers": ["dense64", "tanh", "dense10"]}})
    assert mlp.model == resolve({"model": {"hidden_sizes": [64], "activation": "tanh"}}).model


def test_layers_flag_and_its_errors(capsys):
    from compare.cli import main

    assert main(["run", "--layers", "dense8,relu,dense7", "--limit-train", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "the last layer must be dense10" in err
    assert main(["run", "--layers", "dense8,gelu,dense10", "--limit-train", "10"]) == 2
    assert "unknown layer 'gelu'" in capsys.readouterr().err


def test_both_stack_forms_in_one_layer_are_refused_and_config_toml_repeats_a_stack(tmp_path):
    from compare.runconfig import load_toml, resolve, to_toml
    from scratch.config import ConfigError

    stack = ["dense64", "tanh", "dense32", "relu", "dense10"]
    for extra in ({"activation": "relu"}, {"hidden_sizes": [128]}):
        with pytest.raises(ConfigError, match="give the stack once"):
            resolve({"model": {"layers": stack, **extra}})
    config = resolve({"model": {"layers": stack}})
    text = to_toml(config)
    assert "hidden_sizes" not in text and "activation" not in text and "layers = [" in text
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert resolve(load_toml(path)) == config
    wider = resolve(load_toml(path), {"model": {"hidden_sizes": [64]}})  # --hidden over it
    assert wider.model.layer_specs == ("dense64", "relu", "dense10")
