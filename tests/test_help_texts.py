"""Help texts and range errors read the same in every subcommand, and name the flag the
user typed ("--lr must be a number > 0"), not the config key behind it."""

from __future__ import annotations

import pytest

from compare.cli import DATA_DIR_HELP, SUBCOMMANDS, build_parser, main
from compare.progress import Progress
from scratch.errors import must_be


def test_data_dir_has_one_metavar_and_one_help_everywhere():
    subparsers = build_parser().get_default("subcommand_parsers")
    found = {}
    for name, _ in SUBCOMMANDS:
        for action in subparsers[name]._actions:
            if "--data-dir" in action.option_strings:
                found[name] = action
    assert set(found) == {"run", "sweep", "check", "data", "bench"}
    assert {action.metavar for action in found.values()} == {"DIR"}
    assert all(action.help.startswith(DATA_DIR_HELP) for action in found.values())


def test_a_flag_shared_by_subcommands_has_one_metavar():
    subparsers = build_parser().get_default("subcommand_parsers")
    metavars: dict[str, set] = {}
    for name, _ in SUBCOMMANDS:
        for action in subparsers[name]._actions:
            if action.nargs != 0 and not action.choices:
                for flag in action.option_strings:
                    metavars.setdefault(flag, set()).add(action.metavar or action.dest.upper())
    # serve's --run is a folder name under --runs-dir, predict's a path: not the same thing
    assert {f: m for f, m in metavars.items() if len(m) > 1 and f != "--run"} == {}


def test_one_wording_for_ranges():
    assert must_be("a number", 0.0, low_open=True) == "must be a number > 0"
    assert must_be("a number", 0.0, 1.0, high_open=True) == "must be a number >= 0 and < 1"
    assert must_be("a whole number", 1) == "must be a whole number >= 1"
    assert must_be("a whole number", 0, 65535) == "must be a whole number from 0 to 65535"
    assert must_be("a number", 0.5, float("inf")) == "must be a number >= 0.5"


def error_of(argv: list[str], capsys) -> str:
    try:
        code = main(argv)
    except SystemExit as stopped:  # argparse's usage errors
        code = stopped.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0, err
    return err.removeprefix("mnist-compare: error: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--lr", "-1"], "--lr must be a number > 0, got -1.0"),
        (["run", "--momentum", "1.5"], "--momentum must be a number >= 0 and < 1, got 1.5"),
        (["run", "--l2", "-0.1"], "--l2 must be a number >= 0, got -0.1"),
        (["run", "--lr-decay", "-1"], "--lr-decay must be a number >= 0, got -1.0"),
        (["run", "--epochs", "0"], "--epochs must be a whole number >= 1, got 0"),
        (["run", "--batch-size", "0"], "--batch-size must be a whole number >= 1, got 0"),
        (["run", "--val-size", "70000"], "--val-size must be a whole number from 0 to 59999"),
        (["run", "--seed", "-1"], "--seed must be a whole number >= 0, got -1"),
        (["bench", "--repeats", "0"], "--repeats must be a whole number >= 1, got 0"),
        (["data", "--val-size", "-1"], "--val-size must be a whole number >= 0, got -1"),
        (["check", "--steps", "0"], "--steps must be a whole number >= 1, got 0"),
        (["check", "--hidden", "0"], "--hidden must be whole numbers >= 1 separated by commas"),
        (["run", "--hidden", "12,x"], "--hidden must be whole numbers >= 1 separated by commas"),
    ],
)
def test_range_errors_name_the_flag(argv, message, capsys, tmp_path):
    assert error_of(argv, capsys).startswith(message)


def test_the_same_value_from_a_config_file_names_its_key(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[model]\nlearning_rate = -1\n")
    err = error_of(["run", "--config", str(config), "--out", str(tmp_path / "o")], capsys)
    assert err == "learning_rate must be a number > 0, got -1"


def test_the_flag_wins_over_the_file_and_is_named(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("epochs = 3\n")
    err = error_of(["run", "--config", str(config), "--epochs", "0"], capsys)
    assert err == "--epochs must be a whole number >= 1, got 0"


def test_validation_lines_carry_their_epoch_and_the_lockstep_line_says_what_it_is(capsys):
    progress = Progress()
    progress.start_epoch("epoch 3/10", ("scratch", "keras"), steps=2)
    progress.end_epoch({"scratch": (0.1, 0.97), "keras": (0.2, 0.96)})
    err = capsys.readouterr().err
    assert "epoch 3/10 validation: scratch loss 0.1000 acc 0.9700   keras loss 0.2000" in err
    models = {"test_accuracy": 0.9, "test_loss": 0.3, "train_seconds": 1.0,
              "samples_per_second": 10.0, "predict_seconds": 0.1}  # fmt: skip
    summary = {
        "status": "complete",
        "models": {"scratch": models, "keras": models},
        "pairs": [{"models": ["scratch", "keras"], "prediction_agreement": 1.0,
                   "only_a_correct": 0, "only_b_correct": 0, "mcnemar_p_value": 1.0,
                   "max_abs_weight_diff": [1e-7, 0.0426]}],
    }  # fmt: skip
    progress.final_table(summary)
    err = " ".join(capsys.readouterr().err.split())
    assert "lockstep: scratch and keras weights differ by at most 0.0426 at the end" in err
    assert "only rounding differs" in err
