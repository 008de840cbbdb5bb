"""Real runs of the CLI: several seeds in independent mode, and an exact repeat from
a run folder's config.toml."""

from __future__ import annotations

import csv
import json

import pytest

from compare.cli import main
from reports import render_report

pytestmark = [pytest.mark.mnist]


def read_rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def tiny_run(mnist_dir, out, *extra):
    argv = ["run", "--data-dir", str(mnist_dir), "--limit-train", "1000", "--val-size", "500"]
    return main([*argv, "--epochs", "1", *extra, "--out", str(out), "--quiet", "--no-report"])


@pytest.mark.keras
@pytest.mark.slow
def test_two_seeds_independent(mnist_dir, tmp_path):
    out = tmp_path / "seeds"
    assert tiny_run(mnist_dir, out, "--seeds", "2", "--mode", "independent", "--seed", "5") == 0
    rows = read_rows(out / "seeds.csv")
    assert [(r["seed"], r["model"]) for r in rows] == [
        ("5", "scratch"), ("5", "keras"), ("6", "scratch"), ("6", "keras"),
    ]  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    multi = summary["multi_seed"]
    assert multi["seeds"] == [5, 6] and multi["paired"]["n"] == 2
    first = {r["model"]: float(r["test_accuracy"]) for r in rows if r["seed"] == "5"}
    assert summary["models"]["scratch"]["test_accuracy"] == first["scratch"]
    scratch = [float(r["test_accuracy"]) for r in rows if r["model"] == "scratch"]
    assert multi["per_model"]["scratch"]["test_accuracy"]["mean"] == pytest.approx(sum(scratch) / 2)
    keras = [float(r["test_accuracy"]) for r in rows if r["model"] == "keras"]
    diff = (scratch[0] - keras[0] + scratch[1] - keras[1]) / 2
    assert multi["paired"]["mean_difference"] == pytest.approx(diff)
    assert "lockstep" not in summary and not (out / "lockstep.csv").exists()
    # independent: Keras drew its own initial weights, so the twins differ
    assert summary["agreement"]["prediction_agreement"] < 1.0
    # the report of this real multi-seed folder shows the seeds, the paired test and figure
    written = render_report(out)
    assert "seed_spread" in written and written["seed_spread"].stat().st_size > 1000
    markdown = written["markdown"].read_text()
    assert "## Several seeds" in markdown and "Paired over 2 seeds" in markdown
    assert f"{multi['paired']['mean_difference'] * 100:+.2f} points" in markdown


def test_config_toml_repeats_the_run_exactly(mnist_dir, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert tiny_run(mnist_dir, first, "--models", "scratch", "--hidden", "32", "--seed", "3") == 0
    assert main(["run", "--config", str(first / "config.toml"), "--out", str(second), "--quiet",
                 "--no-report"]) == 0  # fmt: skip
    assert (second / "config.toml").read_text().split("\n", 2)[2] == (
        (first / "config.toml").read_text().split("\n", 2)[2]  # the same but the comment header
    )
    assert (second / "predictions.csv").read_text() == (first / "predictions.csv").read_text()
    columns = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
    assert [[r[c] for c in columns] for r in read_rows(second / "metrics.csv")] == [
        [r[c] for c in columns] for r in read_rows(first / "metrics.csv")
    ]
