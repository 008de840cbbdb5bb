"""SWEEP.toml (compare/sweepconfig.py), the sweep statistics (compare/metrics.py) and the
sweep command's one-line errors: unit tests, no training."""

from __future__ import annotations

import math

import pytest

from compare import metrics
from compare.cli import main
from compare.sweepconfig import cell_name, load_sweep
from scratch.config import ConfigError

BASE = 'epochs = 1\nmodels = ["scratch"]\n[data]\nlimit_train = 500\n'


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_grid_is_the_cartesian_product_times_the_seeds(tmp_path):
    # top-level keys before [data] (after it, they would belong to the table)
    grid = '[grid]\n"model.optimizer" = ["sgd", "adam"]\nepochs = [1, 2]\n'
    text = "seeds = 3\nseed = 5\n" + BASE + grid
    sweep = load_sweep(write(tmp_path, text))
    assert sweep.keys == ["model.optimizer", "epochs"]
    assert [c.name for c in sweep.cells] == [
        "optimizer-sgd_epochs-1", "optimizer-sgd_epochs-2",
        "optimizer-adam_epochs-1", "optimizer-adam_epochs-2",
    ]  # fmt: skip
    assert sweep.seeds == [5, 6, 7] and len(sweep.runs) == 12
    run = sweep.runs[3]  # the second cell, first seed
    assert run.folder == "optimizer-sgd_epochs-2_seed-5"
    assert (run.config.epochs, run.config.seed, run.config.seeds) == (2, 5, 1)
    # the optimizer's default learning rate, as `run` resolves it
    assert sweep.runs[-1].config.model.learning_rate == 0.001
    assert sweep.runs[0].config.data.limit_train == 500


def test_nested_grid_keys_and_variants_times_grid(tmp_path):
    text = BASE + (
        "[grid.model]\nlearning_rate = [0.01, 0.1]\n"
        '[[variants]]\n"model.hidden_sizes" = [64]\n'
        '[[variants]]\nmodel.hidden_sizes = [32, 16]\nmodel.activation = "tanh"\n'
    )
    sweep = load_sweep(write(tmp_path, text), {"data": {"data_dir": "/somewhere"}})
    assert [c.name for c in sweep.cells] == [
        "hidden_sizes-64_learning_rate-0.01", "hidden_sizes-64_learning_rate-0.1",
        "hidden_sizes-32x16_activation-tanh_learning_rate-0.01",
        "hidden_sizes-32x16_activation-tanh_learning_rate-0.1",
    ]  # fmt: skip
    config = sweep.runs[2].config
    assert config.model.hidden_sizes == (32, 16) and config.model.activation == "tanh"
    assert config.data.data_dir == "/somewhere"


@pytest.mark.parametrize(
    "text, message",
    [
        ('[grid]\n"model.optimiser" = ["sgd"]\n', "unknown key 'model.optimiser'"),
        ('[grid]\n"model.optimizer" = []\n', "model.optimizer is an empty list"),
        ('[grid]\n"model.optimizer" = "sgd"\n', "must be a list of values"),
        ("seeds = 0\n", "seeds must be"),
        ("[grid]\nseed = [1, 2]\n", "seed cannot be swept"),
        ('[grid]\n"model.optimizer" = ["sgd", "rmsprop"]\n', "cell optimizer-rmsprop"),
        ("epochz = 3\n", "unknown key(s) epochz"),
        ("variants = []\n", "[[variants]] is empty"),
        ('[grid]\n"epochs" = [1, 1]\n', "appear more than once"),
        ("[grid]\nepochs = [1, 2]\n[[variants]]\nepochs = 3\n", "in both [grid] and [[variants]]"),
    ],
)
def test_bad_sweep_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_sweep(write(tmp_path, text))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_command_says_it_in_one_line_with_exit_2(tmp_path, capsys):
    path = write(tmp_path, '[grid]\n"model.optimizer" = []\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty list" in err
    assert not (tmp_path / "s").exists()  # nothing started
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path)]) == 2
    assert f"sweep file {tmp_path} is a folder" in capsys.readouterr().err
    assert main(["sweep", "/dev/zero"]) == 2
    assert "/dev/zero is not a regular file" in capsys.readouterr().err


def test_an_existing_folder_needs_resume_and_the_same_sweep(tmp_path, capsys):
    path = write(tmp_path, BASE)
    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.toml").write_text("epochs = 2\n")
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(out), "--resume"]) == 2
    assert "holds a different sweep" in capsys.readouterr().err


def test_cell_names_are_folder_safe():
    assert cell_name({}) == "base"
    assert cell_name({"model.layers": ["conv8x3", "relu", "flatten", "dense10"]}) == (
        "layers-conv8x3xreluxflattenxdense10"
    )
    assert cell_name({"data.data_dir": "/a b/c"}) == "data_dir-_a_b_c"


def test_student_t_quantile_and_interval():
    assert metrics.student_t_quantile(0.975, 4) == pytest.approx(2.7764, abs=1e-4)
    assert metrics.student_t_quantile(0.975, 1000) == pytest.approx(1.9623, abs=1e-4)
    low, high = metrics.confidence_interval([1.0, 2.0, 3.0])
    assert (low + high) / 2 == pytest.approx(2.0)
    assert high - 2.0 == pytest.approx(4.3027 * 1.0 / math.sqrt(3), abs=1e-3)
    assert metrics.confidence_interval([1.0]) is None


def test_holm_adjustment():
    # sorted 0.01, 0.02, 0.04 of 3: 0.03, max(0.03, 0.04), max(0.04, 0.04)
    adjusted = metrics.holm_adjust([0.04, 0.01, None, 0.02])
    assert adjusted[2] is None
    assert [adjusted[i] for i in (0, 1, 3)] == pytest.approx([0.04, 0.03, 0.04])
    assert metrics.holm_adjust([0.5, 0.9]) == [1.0, 1.0]
    assert metrics.holm_adjust([]) == []


def test_result_files_from_run_folders(tmp_path):
    """sweep.csv and cells.csv from summary.json files (written here by hand: no training)."""
    import csv
    import json

    from compare.sweepresults import run_states, write_all

    text = 'seeds = 3\nmodels = ["scratch", "keras"]\n[grid]\n"model.learning_rate" = [0.1, 0.2]\n'
    sweep = load_sweep(write(tmp_path, text))
    accuracy = {"scratch": [0.90, 0.92, 0.94], "keras": [0.89, 0.90, 0.91]}
    for index, task in enumerate(sweep.runs):
        folder = tmp_path / "out" / "runs" / task.folder
        folder.mkdir(parents=True)
        if task.cell.endswith("0.2") and task.seed == 2:
            (folder / "summary.json").write_text(json.dumps({"status": "diverged", "error": "x"}))
            continue
        models = {
            m: {"test_accuracy": accuracy[m][task.seed], "test_loss": 0.5, "train_seconds": 1.0,
                "samples_per_second": 4000.0 if m == "scratch" else 1000.0 + index}
            for m in ("scratch", "keras")
        }  # fmt: skip
        (folder / "summary.json").write_text(json.dumps({"status": "complete", "models": models}))
    out = tmp_path / "out"
    states = run_states(sweep, out / "runs", {})
    write_all(sweep, out, states, {"status": "complete"})
    with (out / "sweep.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and rows[0]["model.learning_rate"] == "0.1"
    assert [r["status"] for r in rows].count("diverged") == 2
    with (out / "cells.csv").open() as handle:
        cells = {(r["kind"], r["cell"], r["model"]): r for r in csv.DictReader(handle)}
    scratch = cells[("model", "learning_rate-0.1", "scratch")]
    assert float(scratch["accuracy_mean"]) == pytest.approx(0.92)
    assert float(scratch["accuracy_ci_high"]) - 0.92 == pytest.approx(4.3027 * 0.02 / 3**0.5, 1e-3)
    pair = cells[("pair", "learning_rate-0.1", "scratch-keras")]
    # differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01, t = 0.02 / (0.01 / sqrt 3)
    assert float(pair["t_statistic"]) == pytest.approx(2 * 3**0.5)
    assert float(pair["speed_ratio_median"]) == pytest.approx(4000 / 1001)
    other = cells[("pair", "learning_rate-0.2", "scratch-keras")]
    assert other["complete"] == "2" and other["runs"] == "3"
    p_values = [float(pair["p_value"]), float(other["p_value"])]
    assert float(pair["p_holm"]) == pytest.approx(min(1.0, 2 * min(p_values)))


def test_a_kept_run_counts_as_trained_with_the_same_config_written_by_an_older_version(
    tmp_path,
):
    """--resume reuses a run whose config.toml resolves to the task's config, even when
    an older version did not write a key (here the distortions, default 0)."""
    from compare.runconfig import resolve, to_toml
    from compare.sweepconfig import RunTask
    from compare.sweeprun import trained_as

    config = resolve({"epochs": 2, "models": ["scratch"]})
    task = RunTask("cell", 0, "run", config)
    old_text = "\n".join(
        line for line in to_toml(config).splitlines()
        if not line.startswith(("shift", "rotate", "zoom"))
    )  # fmt: skip
    assert "shift" not in old_text
    (tmp_path / "config.toml").write_text(old_text)
    assert trained_as(tmp_path, task)
    (tmp_path / "config.toml").write_text(old_text.replace("epochs = 2", "epochs = 3"))
    assert not trained_as(tmp_path, task)
    (tmp_path / "config.toml").write_text("epochs = [")  # damaged: train again
    assert not trained_as(tmp_path, task)


def test_two_cells_that_differ_only_in_form_are_one_setting(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('epochs = 1\n[grid]\n"data.shift" = [0, 0.0]\n')
    with pytest.raises(ConfigError, match="are the same setting"):
        load_sweep(path)
