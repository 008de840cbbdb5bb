"""Ctrl-C and divergence on real MNIST with the real networks.

The interruption is injected from inside a real `train_step` (a subclass that sends
itself SIGINT, or raises KeyboardInterrupt, after N steps): nothing is mocked, the
networks really train until then.
"""

from __future__ import annotations

import csv
import json
import os
import signal

import numpy as np
import pytest

from compare.cli import main
from compare.runconfig import resolve
from compare.runfolder import prepare_out_dir
from compare.runner import execute
from scratch import Network

pytestmark = [pytest.mark.mnist]


def make_interrupting(base, after_steps: int, how: str):
    """A subclass of a real model class whose step `after_steps` is interrupted."""

    class Interrupting(base):
        def train_step(self, x_batch, y_batch):
            self.steps_taken = getattr(self, "steps_taken", 0) + 1
            if self.steps_taken == after_steps and how == "raise":
                raise KeyboardInterrupt
            loss = super().train_step(x_batch, y_batch)
            if self.steps_taken == after_steps and how == "sigint":
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process
            return loss

    return Interrupting


def small_config(mnist_dir, **top):
    return resolve(
        {
            "epochs": 3,
            "data": {"data_dir": str(mnist_dir), "limit_train": 2000, "val_size": 1000},
            **top,
        }
    )


def read_rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_sigint_stops_after_the_step_and_keeps_the_results(mnist_dir, tmp_path):
    config = small_config(mnist_dir, models=["scratch"])  # 63 steps per epoch
    out = prepare_out_dir(tmp_path / "run", overwrite=False)
    factories = {"scratch": make_interrupting(Network, after_steps=100, how="sigint")}
    # Usually default_int_handler; SIG_IGN when the tests run as a background job.
    handler_before = signal.getsignal(signal.SIGINT)
    summary = execute(config, out, quiet=True, factories=factories)
    assert summary["status"] == "interrupted"
    saved = json.loads((out / "summary.json").read_text())
    assert saved["status"] == "interrupted" and saved["steps"] == 100
    assert saved["models"]["scratch"]["epochs_completed"] == 1
    assert saved["models"]["scratch"]["test_accuracy"] > 0.5  # trained, then evaluated
    assert [row["epoch"] for row in read_rows(out / "metrics.csv")] == ["1"]
    assert (out / "scratch.npz").is_file() and (out / "predictions.csv").is_file()
    assert signal.getsignal(signal.SIGINT) is handler_before  # handler restored


def keras_interrupted_at_step_70(config, seed=0):
    """The real Keras twin, interrupted inside its step 70 (module level: the Keras worker
    process imports it by name)."""
    from keras_baseline import KerasTwin

    return make_interrupting(KerasTwin, 70, "raise")(config, seed=seed)


@pytest.mark.keras
@pytest.mark.slow
def test_keyboard_interrupt_inside_a_keras_step(mnist_dir, tmp_path):
    config = small_config(mnist_dir, schedule="parallel")  # both stop in epoch 2
    out = prepare_out_dir(tmp_path / "run", overwrite=False)
    factories = {"scratch": Network, "keras": keras_interrupted_at_step_70}
    execute(config, out, quiet=True, factories=factories)
    saved = json.loads((out / "summary.json").read_text())
    assert saved["status"] == "interrupted"
    assert {m: r["epochs_completed"] for m, r in saved["models"].items()} == {
        "scratch": 1,
        "keras": 1,
    }
    assert saved["agreement"]["both_correct"] > 5000
    assert len(saved["lockstep"]["max_abs_weight_diff"]) == 1
    assert (out / "keras.keras").is_file() and (out / "confusion_keras.csv").is_file()


def test_divergence_is_one_line_exit_1_and_not_saved_as_good(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--models", "scratch", "--data-dir", str(mnist_dir), "--limit-train", "500"]
    code = main(
        [*argv, "--lr", "1e30", "--epochs", "2", "--out", str(out), "--quiet", "--no-report"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "scratch diverged at epoch 1, batch" in err
    saved = json.loads((out / "summary.json").read_text())
    assert saved["status"] == "diverged" and saved["diverged"]["epoch"] == 1
    assert "models" not in saved and not (out / "scratch.npz").exists()


def test_a_seed_cut_short_is_left_out_of_the_seed_statistics(mnist_dir, tmp_path):
    config = small_config(mnist_dir, models=["scratch"], seeds=3, epochs=1)  # 63 steps a seed
    steps = {"taken": 0}

    class InterruptedInSecondSeed(Network):
        def train_step(self, x_batch, y_batch):
            steps["taken"] += 1
            loss = super().train_step(x_batch, y_batch)
            if steps["taken"] == 63 + 30:  # the middle of seed 1's only epoch
                os.kill(os.getpid(), signal.SIGINT)
            return loss

    out = prepare_out_dir(tmp_path / "run", overwrite=False)
    factories = {"scratch": InterruptedInSecondSeed}
    summary = execute(config, out, quiet=True, factories=factories)
    assert summary["status"] == "interrupted"
    multi = summary["multi_seed"]
    assert multi["seeds"] == [0] and multi["seeds_requested"] == [0, 1, 2]
    assert [row["seed"] for row in read_rows(out / "seeds.csv")] == ["0"]
    seed0 = summary["models"]["scratch"]["test_accuracy"]
    assert multi["per_model"]["scratch"]["test_accuracy"]["mean"] == seed0


def test_a_later_seed_that_diverges_keeps_the_first_seeds_results(mnist_dir, tmp_path):
    config = small_config(mnist_dir, models=["scratch"], seeds=2, epochs=1)
    built = {"count": 0}

    class BlowsUpInSecondSeed(Network):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built["count"] += 1
            self.number = built["count"]

        def train_step(self, x_batch, y_batch):
            if self.number == 2 and self.iterations == 10:
                self.flat_params[:] = np.inf  # the weights blow up: the next loss is not finite
            return super().train_step(x_batch, y_batch)

    out = prepare_out_dir(tmp_path / "run", overwrite=False)
    with pytest.raises(Exception, match="diverged"):
        execute(config, out, quiet=True, factories={"scratch": BlowsUpInSecondSeed})
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged"]["seed"] == 1
    assert summary["models"]["scratch"]["test_accuracy"] > 0.5  # seed 0, complete
    assert summary["multi_seed"]["seeds"] == [0]
    assert [row["epoch"] for row in read_rows(out / "metrics.csv")] == ["1"]  # seed 0's
    assert (out / "scratch.npz").is_file()
    from reports import render_report

    markdown = render_report(out)["markdown"].read_text(encoding="utf-8")
    assert "diverged" in markdown and "could not be drawn" not in markdown
