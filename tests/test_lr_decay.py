"""Learning-rate decay (`ModelConfig.lr_decay`): lr_t = lr / (1 + lr_decay * t), exactly
Keras's `InverseTimeDecay(lr, decay_steps=1, decay_rate=lr_decay)` evaluated in float32.

Hand-computed optimizer steps, the float64 lockstep against the real Keras twin on
real MNIST, config validation and the `--lr-decay` flag / `lr_decay` TOML key.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from compare.batches import BatchSchedule
from compare.cli import main
from compare.commands.run import configure
from compare.runflags import resolve_args
from scratch.config import ConfigError, ModelConfig
from scratch.keras_rounding import keras_decayed_learning_rate
from scratch.optimizers import make_optimizer

LR, DECAY = 0.1, 0.25  # a decay this large changes the rate visibly every step


def expected_rates(steps: int) -> list[float]:
    """lr / (1 + decay * t) for t = 0 .. steps-1 (updates already applied), in float32
    arithmetic as Keras's schedule does it, then cast to float64."""
    f32 = np.float32
    return [float(f32(LR) / (f32(1) + f32(DECAY) * f32(t))) for t in range(steps)]


def test_decayed_rate_is_the_float32_inverse_time_formula():
    rates = expected_rates(3)
    assert rates[0] == float(np.float32(0.1)) != 0.1  # the float32 detour, as Keras
    assert rates == pytest.approx([0.1, 0.1 / 1.25, 0.1 / 1.5], rel=1e-7)
    for t, rate in enumerate(rates):
        assert keras_decayed_learning_rate(LR, DECAY, t, np.dtype("float64")) == rate


def test_sgd_with_decay_three_steps_by_hand():
    config = ModelConfig(optimizer="sgd", learning_rate=LR, lr_decay=DECAY, dtype="float64")
    W = np.array([1.0, -2.0, 0.5])
    g = np.array([0.3, -0.1, 2.0])
    optimizer = make_optimizer(config, [W])
    expected = W.copy()
    for t, rate in enumerate(expected_rates(3), start=1):
        optimizer.step([W], [g.copy()], t)
        expected = expected - g * rate
        np.testing.assert_array_equal(W, expected)
    # The third step used lr / 1.5, not lr: the total move is lr * (1 + 1/1.25 + 1/1.5) * g.
    total = LR * (1 + 0.8 + 1 / 1.5)
    np.testing.assert_allclose(W, [1.0, -2.0, 0.5] - g * total, rtol=0, atol=1e-7)


def test_adam_with_decay_three_steps_by_hand():
    b1, b2, eps = 0.9, 0.999, 1e-7
    config = ModelConfig(
        optimizer="adam", learning_rate=LR, lr_decay=DECAY, dtype="float64", epsilon=eps
    )
    W = np.array([0.2, -0.4])
    grads = [np.array([0.5, -1.0]), np.array([0.1, 0.3]), np.array([-0.2, 0.05])]
    optimizer = make_optimizer(config, [W])
    expected, m, v = W.copy(), np.zeros(2), np.zeros(2)
    beta_1, beta_2 = float(np.float32(b1)), float(np.float32(b2))  # Keras casts via float32
    for t, (g, rate) in enumerate(zip(grads, expected_rates(3), strict=True), start=1):
        optimizer.step([W], [g.copy()], t)
        alpha = rate * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        expected = expected - m * alpha / (np.sqrt(v) + eps)
        np.testing.assert_allclose(W, expected, rtol=1e-15, atol=1e-16)


def test_no_decay_keeps_the_constant_rate():
    config = ModelConfig(optimizer="momentum", learning_rate=LR, dtype="float64")
    optimizer = make_optimizer(config, [np.zeros(2)])
    assert {float(optimizer.learning_rate.at(t)) for t in (1, 2, 1000)} == {float(np.float32(LR))}


@pytest.mark.parametrize("bad", [-1e-4, math.nan, math.inf, "1e-4", True, None])
def test_bad_lr_decay_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="lr_decay"):
        ModelConfig(lr_decay=bad)


def test_lr_decay_round_trips_through_a_dict():
    config = ModelConfig(lr_decay=1e-4)
    assert config.to_dict()["lr_decay"] == 1e-4
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ModelConfig().lr_decay == 0.0


# ----- run config and CLI (parse only) ---------------------------------------------------
def parse(argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


def test_flag_reaches_the_model_config():
    config = resolve_args(parse(["--lr-decay", "2e-4", "--optimizer", "momentum"]))
    assert config.model.lr_decay == 2e-4
    assert resolve_args(parse([])).model.lr_decay == 0.0


def test_toml_key_and_flag_precedence(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nlr_decay = 5e-5\n")
    assert resolve_args(parse(["--config", str(path)])).model.lr_decay == 5e-5
    both = resolve_args(parse(["--config", str(path), "--lr-decay", "1e-3"]))
    assert both.model.lr_decay == 1e-3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr-decay", "-1"], "--lr-decay must be a number >= 0"),
        (["--lr-decay", "soon"], "invalid float value"),
    ],
)
def test_bad_flag_is_one_line_exit_2(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    try:
        code = main(["run", *argv, "--out", str(out)])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert err.count("\n") == 1 and err.startswith("mnist-compare: error:")
    assert not out.exists()


def test_report_shows_the_schedule():
    from reports.keras_code import keras_lines

    model = ModelConfig(optimizer="momentum", learning_rate=0.1, lr_decay=1e-4).to_dict()
    line = keras_lines(model, {})["Parameter update"]
    assert "InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.0001)" in line
    assert "SGD(learning_rate=lr, momentum=0.9)" in line
    plain = keras_lines(ModelConfig(learning_rate=0.1).to_dict(), {})["Parameter update"]
    assert "InverseTimeDecay" not in plain and "learning_rate=0.1)" in plain


# ----- the Keras twin ----------------------------------------------------------------------
def lockstep(splits, config: ModelConfig, steps: int) -> float:
    """Max abs weight difference of scratch vs the Keras twin after `steps` shared steps."""
    from keras_baseline.twin import KerasTwin
    from scratch.network import Network

    network = Network(config, seed=0)
    twin = KerasTwin(config, seed=0)
    twin.set_weights(network.get_weights())
    x = np.asarray(splits.x_train, dtype=config.dtype)
    y = splits.y_train
    schedule = BatchSchedule(len(y), 32, seed=0)
    taken = 0
    for epoch in range(steps):
        for idx in schedule.epoch(epoch):
            loss_s = network.train_step(x[idx], y[idx])
            loss_k = twin.train_step(x[idx], y[idx])
            assert loss_s == pytest.approx(loss_k, rel=1e-5)
            taken += 1
            if taken == steps:
                pairs = zip(network.get_weights(), twin.get_weights(), strict=True)
                return max(float(np.max(np.abs(a - b))) for a, b in pairs)
    raise AssertionError("not enough batches")


@pytest.mark.keras
def test_twin_keeps_a_plain_float_rate_without_decay():
    pytest.importorskip("keras")
    import keras

    from keras_baseline.build import make_optimizer as keras_optimizer

    plain = keras_optimizer(ModelConfig(learning_rate=0.05))
    assert isinstance(plain._learning_rate, keras.Variable)
    assert plain._learning_rate.dtype == "float32"
    decayed = keras_optimizer(ModelConfig(learning_rate=0.05, lr_decay=1e-3))
    schedule = decayed._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.InverseTimeDecay)
    assert (schedule.initial_learning_rate, schedule.decay_steps) == (0.05, 1)
    assert schedule.decay_rate == 1e-3
    for t in (0, 1, 7, 12_345):  # the schedule itself, evaluated by TensorFlow
        want = keras_decayed_learning_rate(0.05, 1e-3, t, np.dtype("float32"))
        assert np.float32(schedule(t)) == want


@pytest.mark.keras
def test_saved_twin_keeps_its_schedule(tmp_path):
    pytest.importorskip("keras")
    from keras_baseline.twin import KerasTwin

    config = ModelConfig(hidden_sizes=(8,), optimizer="momentum", learning_rate=0.05, lr_decay=1e-3)
    path = KerasTwin(config).save(tmp_path / "twin.keras")
    assert KerasTwin.load(path).config == config


@pytest.mark.mnist
@pytest.mark.keras
@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_float64_lockstep_with_decay_matches_keras(mnist_small, optimizer):
    pytest.importorskip("keras")
    lr = 0.001 if optimizer == "adam" else 0.05
    config = ModelConfig(
        hidden_sizes=(32,),
        optimizer=optimizer,
        learning_rate=lr,
        lr_decay=0.05,  # lr falls to 1/3.45 over the 50 steps
        l2=1e-4,
        dtype="float64",
    )
    assert lockstep(mnist_small, config, 50) <= 1e-12


@pytest.mark.mnist
@pytest.mark.keras
@pytest.mark.slow
def test_float32_sgd_with_decay_stays_close_to_keras(mnist_small):
    pytest.importorskip("keras")
    config = ModelConfig(hidden_sizes=(32,), learning_rate=0.1, lr_decay=0.05)
    assert lockstep(mnist_small, config, 20) <= 1e-5
