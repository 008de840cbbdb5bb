"""`mnist-compare check --model FILE.py:CLASS`: a learner's own network beside Keras.

The networks live in tests/usernets/ (tiny: hidden 16, batches of 8, a few steps on 200
real MNIST images). Correct ones must pass at float64 <= 1e-10; each buggy variant must
be diagnosed with its bug's name; errors in the learner's code must name their file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compare.cli import CliError, main
from compare.usermodel import (
    UserCodeError,
    construct,
    detect_layout,
    kernel_shapes,
    load_target,
)
from scratch.config import ModelConfig

NETS = Path(__file__).parent / "usernets"
TEXTBOOK = {"activation": "sigmoid", "loss": "mse", "learning_rate": 15.0}  # eta 3.0


def _net(spec: str, sizes=(784, 16, 10)):
    net, _ = construct(load_target(str(NETS / spec)), list(sizes), init_seed=0)
    return net


# -- loading and layouts (no TensorFlow) ---------------------------------------------------
def test_layouts_are_detected_and_constructors_get_the_sizes():
    assert detect_layout(_net("textbook_ok.py:Network")) == "textbook"
    assert _net("textbook_ok.py:Network", (784, 30, 10)).sizes == [784, 30, 10]
    assert detect_layout(_net("project_ok.py:ProjectNet")) == "project"
    assert detect_layout(_net("grads_ok.py:GradNet")) == "gradients"


def test_missing_method_is_a_one_line_error_listing_the_layouts():
    with pytest.raises(CliError) as caught:
        detect_layout(_net("errors.py:NoTrainStep"))
    message = str(caught.value)
    assert "\n" not in message and caught.value.exit_code == 2
    assert "lacks train_step" in message and "accepted layouts" in message
    assert "update_mini_batch" in message and "gradients(x, y)" in message


def test_shapes_matching_no_layout_are_a_one_line_error():
    with pytest.raises(CliError, match="match no layout") as caught:
        kernel_shapes([np.zeros((100, 16)), np.zeros(16), np.zeros((16, 10)), np.zeros(10)])
    assert "\n" not in str(caught.value)


def test_import_error_names_the_learners_file_and_line():
    with pytest.raises(UserCodeError) as caught:
        load_target(str(NETS / "raises_at_import.py:Network"))
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert "raises_at_import.py:6" in message and "AttributeError" in message
    assert "flaot64" in message  # the tail of their traceback
    assert "compare/usermodel.py" not in message  # never this tool's frames


def test_bad_model_argument_and_unknown_class():
    with pytest.raises(CliError, match="FILE.py:CLASS"):
        load_target("no_colon_here")
    with pytest.raises(CliError, match="found: Network"):
        load_target(str(NETS / "textbook_ok.py:Netwrok"))


def test_module_path_and_a_function_returning_the_network():
    from compare.useradapters import ProjectAdapter

    assert load_target("compare.useradapters:ProjectAdapter") is ProjectAdapter
    net = _net("grads_ok.py:make_net", (784, 7, 10))  # one argument: the sizes
    assert detect_layout(net) == "gradients" and net.params[0].shape == (784, 7)


def test_config_file_then_flags(tmp_path):
    from compare.cli import build_parser
    from compare.usercli import options_from_args

    toml = tmp_path / "mine.toml"
    toml.write_text('batch_size = 8\n[model]\nactivation = "sigmoid"\nloss = "mse"\n'
                    "learning_rate = 15.0\nhidden_sizes = [16]\n")  # fmt: skip
    argv = ["check", "--model", "a.py:Net", "--config", str(toml), "--lr", "10"]
    options = options_from_args(build_parser(only="check").parse_args(argv))
    assert options.config.activation == "sigmoid" and options.config.loss == "mse"
    assert options.config.learning_rate == 10.0 and options.lr_given
    assert options.batch_size == 8 and options.config.hidden_sizes == (16,)
    assert options.steps == 100 and options.dtype is None


def test_model_flags_without_model_are_refused(capsys):
    assert main(["check", "--activation", "sigmoid"]) == 2
    assert "give --model" in capsys.readouterr().err
    assert main(["check", "--model", "a.py:Net", "--optimizers", "sgd"]) == 2
    assert "with --model use --optimizer" in capsys.readouterr().err


def test_help_says_the_file_is_executed(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "RUNS YOUR PYTHON FILE" in " ".join(capsys.readouterr().out.split())


# -- against Keras on real MNIST ------------------------------------------------------------
def _check(spec: str, mnist, steps: int = 3, dtype: str | None = None, **model):
    from compare.usercheck import ModelCheckOptions, run_model_check

    options = ModelCheckOptions(
        model=str(NETS / spec),
        config=ModelConfig(hidden_sizes=(16,), **model),
        lr_given="learning_rate" in model,
        batch_size=8,
        steps=steps,
        limit_train=200,
        dtype=dtype,
    )
    return run_model_check(options, data=mnist)


@pytest.mark.keras
@pytest.mark.mnist
@pytest.mark.parametrize(
    ("spec", "model"),
    [
        ("textbook_ok.py:Network", TEXTBOOK),
        ("project_ok.py:ProjectNet", {}),
        ("project_ok.py:MomentumNet", {"optimizer": "momentum"}),
        ("grads_ok.py:GradNet", {"optimizer": "adam", "learning_rate": 0.001}),
    ],
)
def test_correct_networks_pass_at_float64(spec, model, mnist):
    result, diagnosis = _check(spec, mnist, steps=12, **model)
    assert result.passed and diagnosis is None
    lockstep = [row for row in result.rows if row["check"] == "lockstep"]
    assert lockstep[-1]["steps"] == 12 and lockstep[-1]["max_abs_weight_diff"] <= 1e-10
    assert lockstep[-1]["prediction_agreement"] == 1.0
    gradients = [row for row in result.rows if row["check"] == "gradient"]
    assert gradients and all(row["relative_error"] <= 1e-10 for row in gradients)


BUGS = [
    ("textbook_not_averaged.py:NotAveraged", TEXTBOOK, "gradient_not_averaged", "weights[1]"),
    ("grads_bugs.py:AveragedTwice", {}, "gradient_averaged_twice", "params[2]"),
    ("textbook_sign.py:SignFlipped", TEXTBOOK, "sign_flipped", "weights[1]"),
    ("grads_bugs.py:Transposed", {}, "weight_gradient_transposed", "params[0]"),
    ("grads_bugs.py:BiasWrongAxis", {}, "bias_gradient_wrong_axis", "params[1]"),
    ("textbook_activation.py:DerivativeAtActivation", TEXTBOOK, "derivative_at_activation",
     "weights[1]"),
    ("textbook_activation.py:DerivativeTwice", TEXTBOOK, "derivative_applied_twice",
     "weights[0]"),
    ("grads_bugs.py:ExtraSoftmaxDerivative", {}, "extra_softmax_derivative", "params[2]"),
    ("project_bugs.py:DampenedMomentum", {"optimizer": "momentum", "learning_rate": 0.05},
     "update_rule_differs", "get_weights()[2]"),
    ("project_bugs.py:AdamNoBiasCorrection", {"optimizer": "adam"}, "update_rule_differs",
     "get_weights()[2]"),
    ("project_bugs.py:LearningRateTwice", {}, "learning_rate_applied_twice", "get_weights()[2]"),
    ("project_bugs.py:StaleWeights", {}, "stale_weights", "get_weights()[0]"),
    ("grads_bugs.py:L2OnBiases", {"l2": 1e-3}, "l2_on_biases", "params[3]"),
    ("project_bugs.py:HiddenState", {}, "hidden_state", None),
]  # fmt: skip


@pytest.mark.keras
@pytest.mark.mnist
@pytest.mark.parametrize(("spec", "model", "name", "array"), BUGS, ids=[b[2] for b in BUGS])
def test_each_bug_is_diagnosed_by_name(spec, model, name, array, mnist):
    result, diagnosis = _check(spec, mnist, **model)
    assert not result.passed
    assert diagnosis is not None and diagnosis.name == name, diagnosis
    assert diagnosis.array == array and diagnosis.hint and diagnosis.evidence
    assert result.header["diagnosis"]["name"] == name
    assert any(note.startswith(f"diagnosis: {name}") for note in result.notes)
    if "Adam" in spec:
        assert "Adam without bias correction" in diagnosis.evidence


@pytest.mark.keras
@pytest.mark.mnist
def test_float32_passes_correct_networks_at_float32_rounding_and_still_names_a_bug(mnist):
    """--dtype float32: the learner's network and the twin both compute in float32, so
    they part at rounding (~1e-7, within the float32 limit), never at 1e-16; a bug is
    still named."""
    from compare.usercheck import F32_ABS_LIMIT

    for spec, model in [("project_ok.py:ProjectNet", {}), ("textbook_ok.py:Network", TEXTBOOK)]:
        result, diagnosis = _check(spec, mnist, steps=12, dtype="float32", **model)
        assert result.passed and diagnosis is None, spec
        last = [row for row in result.rows if row["check"] == "lockstep"][-1]
        assert 1e-12 < last["max_abs_weight_diff"] <= F32_ABS_LIMIT, spec
        assert last["prediction_agreement"] == 1.0 and result.header["dtype"] == "float32"
    result, diagnosis = _check("textbook_sign.py:SignFlipped", mnist, dtype="float32", **TEXTBOOK)
    assert not result.passed and diagnosis.name == "sign_flipped"


@pytest.mark.keras
@pytest.mark.mnist
def test_an_unknown_bug_is_reported_honestly_with_the_arrays(mnist):
    result, diagnosis = _check("grads_bugs.py:HalfFirstLayer", mnist)
    assert not result.passed and diagnosis.name == "unrecognised"
    assert diagnosis.array == "params[0]"
    assert "params[0]: rel.error 3.3e-01, ratio 0.5" in diagnosis.evidence
    assert diagnosis.evidence.count(", ratio 1;") + diagnosis.evidence.endswith(", ratio 1") == 3
    assert "no known bug pattern fits" in result.notes[-1]


@pytest.mark.keras
@pytest.mark.mnist
def test_cli_prints_the_table_writes_json_and_exits_1_for_a_bug(mnist_dir, tmp_path, capsys):
    argv = ["check", "--model", f"{NETS}/textbook_sign.py:SignFlipped", "--hidden", "16",
            "--activation", "sigmoid", "--loss", "mse", "--lr", "15", "--batch-size", "8",
            "--steps", "3", "--limit-train", "200", "--data-dir", str(mnist_dir),
            "--json", str(tmp_path / "check.json")]  # fmt: skip
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "(textbook layout) vs Keras" in out and "eta = Keras lr / 5 = 3.0" in out
    assert "diagnosis: sign_flipped (look at weights[1])" in out
    assert "check FAILED" in out
    saved = json.loads((tmp_path / "check.json").read_text())
    assert saved["passed"] is False and saved["diagnosis"]["name"] == "sign_flipped"
    assert saved["first_departure"] == {"step": 1, "array": "weights[1]"}
    assert {row["check"] for row in saved["rows"]} == {"gradient", "lockstep"}


@pytest.mark.keras
@pytest.mark.mnist
def test_exception_in_train_step_is_reported_as_the_learners(mnist_dir, capsys):
    argv = ["check", "--model", f"{NETS}/errors.py:RaisesInTrainStep", "--hidden", "16",
            "--batch-size", "8", "--steps", "5", "--limit-train", "200",
            "--data-dir", str(mnist_dir)]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error in your code" in err and "errors.py:" in err and "train_step" in err
    assert "at step 3" in err and "ValueError" in err
    assert "Traceback" not in err  # not a crash of this tool


@pytest.mark.keras
def test_bug_models_without_a_bug_equal_the_gradient_tape():
    from compare import bugmodels
    from compare.check_gradients import norm_error
    from keras_baseline.twin import KerasTwin

    rng = np.random.default_rng(0)
    x, y = rng.random((6, 784)), rng.integers(0, 10, 6)
    for activation, loss, l2 in (("relu", "crossentropy", 0.0), ("sigmoid", "mse", 1e-3)):
        config = ModelConfig(hidden_sizes=(7, 5), activation=activation, loss=loss, l2=l2,
                             dtype="float64")  # fmt: skip
        twin = KerasTwin(config, seed=1)
        weights = [w + rng.normal(0, 0.1, w.shape) for w in twin.get_weights()]
        twin.set_weights(weights)
        expected = twin.loss_and_gradients(x, y)[1]
        found = bugmodels.gradients(weights, x, y, config)
        assert max(norm_error(a, b) for a, b in zip(found, expected, strict=True)) <= 1e-12
