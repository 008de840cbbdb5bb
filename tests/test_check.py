"""`mnist-compare check`: its pure helpers (fast), then the quick check on real MNIST,
once through `run_check` and once through the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compare.check_lockstep import batch_stream, checkpoints, judge
from compare.metrics import weight_difference


def test_checkpoints_are_powers_of_ten_and_the_end():
    assert checkpoints(1875) == [1, 10, 100, 1000, 1875]
    assert checkpoints(200) == [1, 10, 100, 200]
    assert checkpoints(100) == [1, 10, 100]
    assert checkpoints(1) == [1]


def test_batch_stream_runs_over_epoch_ends():
    from compare.batches import BatchSchedule

    schedule = BatchSchedule(10, 4, seed=0)  # 3 steps per epoch: 4, 4, 2
    stream = list(batch_stream(schedule, 5))
    assert [len(idx) for idx in stream] == [4, 4, 2, 4, 4]
    assert np.array_equal(stream[3], schedule.epoch(1)[0])


def test_weight_differences_absolute_and_relative():
    a = [np.array([1.0, 2.0]), np.array([0.0])]
    b = [np.array([1.0, 4.0]), np.array([0.5])]
    assert weight_difference(a, b) == (2.0, 1.0)


def test_judge_float64_and_float32_rules():
    good = {"max_abs_weight_diff": 1e-15, "prediction_agreement": 1.0, "loss_diff": 1e-16}
    assert judge("float64", 1875, 1875, good)[1]
    assert not judge("float64", 1875, 1875, good | {"max_abs_weight_diff": 1e-9})[1]
    assert not judge("float64", 1875, 1875, good | {"prediction_agreement": 0.9999})[1]
    assert not judge("float64", 1875, 1875, good | {"loss_diff": 1e-9})[1]  # the loss too
    assert not judge("float64", 1875, 1875, good | {"max_abs_weight_diff": float("nan")})[1]
    assert judge("float32", 100, 1875, {"max_abs_weight_diff": 9e-6})[1]
    assert not judge("float32", 100, 1875, {"max_abs_weight_diff": 2e-5})[1]
    # After a ReLU unit (or a pool window) flipped sides by rounding noise, early float32
    # rows are not judged.
    noise = {"parting_flip_step": 67, "parting_flip_size": 2e-7}
    flipped = {"max_abs_weight_diff": 3e-4, "max_abs_weight_diff_before_flip": 4e-7} | noise
    assert judge("float32", 100, 1875, flipped) == ("- (kink flip at step 67)", True)
    assert judge("float32", 10, 1875, flipped | {"parting_flip_step": 50}) == (
        "|dW|<=1e-05",
        False,
    )
    # A flip that a real difference caused excuses nothing.
    caused = flipped | {"max_abs_weight_diff_before_flip": 3e-5}
    assert judge("float32", 100, 1875, caused) == ("|dW|<=1e-05", False)
    assert not judge("float32", 100, 1875, flipped | {"parting_flip_size": 1e-3})[1]
    end = {"prediction_agreement": 0.995, "scratch_test_accuracy": 0.97}
    assert judge("float32", 1875, 1875, end | {"keras_test_accuracy": 0.968})[1]
    assert not judge("float32", 1875, 1875, end | {"keras_test_accuracy": 0.966})[1]
    assert not judge(
        "float32", 1875, 1875, end | {"prediction_agreement": 0.98, "keras_test_accuracy": 0.97}
    )[1]
    # A short run (last step <= 100) is judged on |dW| and on the end criteria.
    short = end | {"keras_test_accuracy": 0.97, "max_abs_weight_diff": 2e-6}
    assert judge("float32", 100, 100, short) == ("|dW|<=1e-05, agree>=99%, |dacc|<=0.3pp", True)
    assert not judge("float32", 100, 100, short | {"prediction_agreement": 0.5})[1]
    assert not judge("float32", 100, 100, short | flipped | {"prediction_agreement": 0.5})[1]


def test_weight_differences_keep_nan():
    a, b = [np.array([np.nan, 1.0])], [np.array([1.0, 1.0])]
    assert all(np.isnan(v) for v in weight_difference(a, b))


def test_bad_arguments_exit_2(capsys):
    from compare.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--optimizers", "sgd,rmsprop"])
    assert exit_info.value.code == 2
    assert "unknown optimizer rmsprop" in capsys.readouterr().err
    assert main(["check", "--json", "/no/such/folder/check.json"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.fixture(scope="module")
def quick_result(mnist_dir):
    from compare.check import CheckOptions, run_check

    return run_check(CheckOptions(data_dir=str(mnist_dir), quick=True))


@pytest.mark.mnist
@pytest.mark.keras
@pytest.mark.slow
def test_quick_check_rows_pass_on_real_mnist(quick_result):
    rows = quick_result.rows
    assert quick_result.passed, [r for r in rows if not r["passed"]]
    gradient = [r for r in rows if r["check"] == "gradient"]
    mlp = [r for r in gradient if r["network"] == "mlp"]
    assert {r["activation"] for r in mlp} == {"relu", "sigmoid", "tanh"}
    assert {r["reference"] for r in mlp} == {
        "gradcheck_6-5-4-4",
        "finite_differences",
        "keras",
    }
    assert all(r["relative_error"] < 1e-12 for r in gradient if r["reference"] == "keras")
    lockstep = [r for r in rows if r["check"] == "lockstep"]
    ends = [r for r in lockstep if r["steps"] == 200 and r["network"] == "mlp"]
    assert {(r["dtype"], r["optimizer"]) for r in ends} == {
        (d, o) for d in ("float64", "float32") for o in ("sgd", "momentum", "nesterov", "adam")
    } | {("float64", "momentum*")}  # mse, he_normal, L2 and lr decay in lockstep too
    cnn_ends = [r for r in lockstep if r["network"] == "cnn" and r["steps"] == 50]
    assert {(r["dtype"], r["optimizer"]) for r in cnn_ends} == {
        (d, o) for d in ("float64", "float32") for o in ("sgd", "adam")
    }
    cnn_gradients = {(r["layer"], r["reference"]) for r in gradient if r["network"] == "cnn"}
    assert ("conv4x3s2same", "keras") in cnn_gradients
    assert {"pool2", "pool3s2", "flatten"} <= {layer for layer, _ in cnn_gradients}
    for row in ends:
        assert row["prediction_agreement"] >= 0.99
        assert row["scratch_test_accuracy"] > 0.7  # it really trained
        if row["dtype"] == "float64":
            assert row["max_abs_weight_diff"] <= 1e-10
            assert row["prediction_agreement"] == 1.0


@pytest.mark.mnist
@pytest.mark.keras
@pytest.mark.slow
def test_quick_check_json_and_table(quick_result, tmp_path):
    from compare.check import format_result, write_json

    path = write_json(quick_result, tmp_path / "check.json")
    data = json.loads(path.read_text())
    assert data["passed"] is True
    keys = {"check", "optimizer", "dtype", "steps", "prediction_agreement", "passed"}
    lockstep = [r for r in data["rows"] if r["check"] == "lockstep"]
    assert all(keys | {"max_abs_weight_diff", "max_rel_weight_diff"} <= set(r) for r in lockstep)
    gradient = [r for r in data["rows"] if r["check"] == "gradient"]
    assert all({"relative_error", "activation", "loss"} <= set(r) for r in gradient)
    text = format_result(quick_result)
    assert text.splitlines()[-1] == f"check PASSED: {len(data['rows'])} rows"
    assert "FAIL" not in text


@pytest.mark.mnist
@pytest.mark.keras
@pytest.mark.slow
def test_check_command_line(mnist_dir, tmp_path, capsys):
    from compare.cli import main

    out = tmp_path / "check.json"
    argv = ["check", "--quick", "--data-dir", str(mnist_dir), "--optimizers", "sgd"]
    code = main([*argv, "--dtypes", "float64", "--steps", "50", "--no-cnn", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    data = json.loads(out.read_text())
    assert data["passed"] is True
    last = [r for r in data["rows"] if r["check"] == "lockstep"][-1]
    assert (last["steps"], last["optimizer"], last["dtype"]) == (50, "sgd", "float64")
    assert last["max_abs_weight_diff"] <= 1e-10
    assert {r["network"] for r in data["rows"]} == {"mlp"}  # --no-cnn
    assert "check PASSED" in printed
