"""Each model in its own worker process (compare/workers.py), on real MNIST.

A second scratch network registered as "twin" trains beside scratch, so most of these
runs need no TensorFlow: through the workers the twins must stay bit-equal, and each
must train exactly as a model trained alone. Failures are real: a worker that SIGKILLs
itself mid-run, a SIGTERM sent to the coordinator by a worker. One Keras run checks
the float64 lockstep through workers and each worker's own peak memory.
"""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from compare import models
from compare.cli import main
from compare.runconfig import resolve
from compare.runfolder import prepare_out_dir
from compare.runner import execute
from scratch import Network

pytestmark = [pytest.mark.mnist]

SMALL = ["--limit-train", "1000", "--val-size", "500", "--no-report", "--quiet"]


class SignalsAtStep(Network):
    """A real scratch network that, after step 40, sends a signal (to the coordinator,
    its parent, or to its own worker process)."""

    SIGNAL, TARGET = signal.SIGTERM, "parent"

    def train_step(self, x_batch, y_batch):
        loss = super().train_step(x_batch, y_batch)
        if self.iterations == 40:
            os.kill(os.getppid() if self.TARGET == "parent" else os.getpid(), self.SIGNAL)
        return loss


class KilledAtStep(SignalsAtStep):
    SIGNAL, TARGET = signal.SIGKILL, "self"


@pytest.fixture
def twin():
    """A second, registered scratch network (float32, the same code as scratch)."""
    models.register("twin", Network, suffix=".npz", label="Twin", color="#2ca02c")
    yield
    models.unregister("twin")


def read_rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def run_cli(out, *extra):
    return main(["run", *SMALL, "--out", str(out), *extra])


@pytest.mark.parametrize("schedule", ["in-turn", "parallel"])
def test_twins_in_two_workers_stay_equal_and_train_as_alone(
    twin, mnist_dir, tmp_path, schedule, capsys
):
    both, alone = tmp_path / "both", tmp_path / "alone"
    argv = ["--data-dir", str(mnist_dir), "--epochs", "2"]
    loud = ["run", *SMALL[:-1], "--out", str(both), *argv]  # with the bars: not --quiet
    assert main([*loud, "--models", "scratch,twin", "--schedule", schedule]) == 0
    shown = capsys.readouterr().err
    validation = [line for line in shown.splitlines() if " validation: " in line]
    assert all(line.startswith(("epoch 1/2 ", "epoch 2/2 ")) for line in validation), shown
    assert shown.count("twin loss ") == 2 and "epoch 2/2 validation: " in shown, shown
    assert run_cli(alone, *argv, "--models", "scratch") == 0
    lockstep = read_rows(both / "lockstep.csv")
    assert [int(r["step"]) for r in lockstep] == [1, 10, 32, 64]  # 32 steps an epoch
    assert all(float(r["max_abs_weight_diff"]) == 0.0 for r in lockstep)
    summary = json.loads((both / "summary.json").read_text())
    processes = summary["environment"]["processes"]
    assert processes["worker_per_model"] is True and processes["schedule"] == schedule
    # the worker trained on the same data in the same order as the run process alone
    rows = {r["model"]: r for r in read_rows(both / "metrics.csv") if r["epoch"] == "2"}
    solo = next(r for r in read_rows(alone / "metrics.csv") if r["epoch"] == "2")
    assert rows["scratch"]["train_loss"] == rows["twin"]["train_loss"] == solo["train_loss"]
    assert rows["scratch"]["val_loss"] == solo["val_loss"]
    for name in ("scratch", "twin"):
        result = summary["models"][name]
        assert result["sync_seconds"] >= 0 and result["train_seconds"] > 0
        assert 0 < result["idle_memory_mb"] <= result["peak_memory_mb"]
    assert not [p for p in both.iterdir() if p.name.startswith(".")]  # no shared data left


def test_a_worker_killed_mid_run_is_one_line_naming_it(twin, mnist_dir, tmp_path, capsys):
    models.unregister("twin")
    models.register("twin", KilledAtStep, suffix=".npz", label="Twin", color="#2ca02c")
    out = tmp_path / "run"
    code = run_cli(out, "--data-dir", str(mnist_dir), "--epochs", "3", "--models", "scratch,twin")
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert "mnist-compare: error: the twin worker process died (killed by SIGKILL)" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["failed"] == {"model": "twin"}
    epochs = [(r["model"], r["epoch"]) for r in read_rows(out / "metrics.csv")]
    # in turn, scratch trained all 3 epochs before the twin started; the twin finished 1
    assert epochs == [("scratch", "1"), ("scratch", "2"), ("scratch", "3"), ("twin", "1")]


@pytest.mark.parametrize(
    ("schedule", "scratch_epochs"), [("parallel", 1), ("in-turn", 5)]
)  # in turn, scratch finished its 5 epochs before the twin began
def test_sigterm_to_the_coordinator_stops_every_worker_and_keeps_results(
    twin, mnist_dir, tmp_path, schedule, scratch_epochs
):
    models.unregister("twin")
    models.register("twin", SignalsAtStep, suffix=".npz", label="Twin", color="#2ca02c")
    config = resolve(
        {
            "epochs": 5,
            "schedule": schedule,
            "models": ["scratch", "twin"],
            "data": {"data_dir": str(mnist_dir), "limit_train": 1000, "val_size": 500},
        }
    )
    out = prepare_out_dir(tmp_path / "run", overwrite=False)
    summary = execute(config, out, quiet=True)
    assert summary["status"] == "interrupted"
    completed = {name: r["epochs_completed"] for name, r in summary["models"].items()}
    assert completed == {"scratch": scratch_epochs, "twin": 1}  # the twin stopped in epoch 2
    assert (out / "scratch.npz").is_file() and (out / "twin.npz").is_file()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is restored


@pytest.mark.keras
@pytest.mark.slow
def test_float64_lockstep_through_workers_and_each_workers_own_memory(mnist_dir, tmp_path):
    out = tmp_path / "run"
    argv = ["--data-dir", str(mnist_dir), "--epochs", "1", "--dtype", "float64"]
    assert run_cli(out, *argv) == 0
    lockstep = read_rows(out / "lockstep.csv")
    assert len(lockstep) == 3 and max(float(r["max_abs_weight_diff"]) for r in lockstep) <= 1e-10
    summary = json.loads((out / "summary.json").read_text())
    scratch, keras = summary["models"]["scratch"], summary["models"]["keras"]
    assert keras["peak_memory_mb"] > 2 * scratch["peak_memory_mb"]  # measured 788 vs 132 MB
    assert summary["environment"]["tensorflow"]  # reported by the Keras worker
    assert "whole run process" not in summary["memory"]["note"]


def test_a_spawned_process_reports_its_own_peak_memory_not_its_parents():
    from compare.environment import peak_rss_mb
    from compare.workers import SPAWN

    ballast = np.ones(40_000_000)  # 305 MiB resident in this process
    with SPAWN.Pool(1) as pool:
        child = pool.apply(peak_rss_mb)
    assert ballast[-1] == 1 and child < peak_rss_mb() - 250  # ru_maxrss would say >= ours


def train_twins_here(mnist_dir: str, out: str) -> dict:
    """`execute` with two models inside a daemonic process (a pool's, as a Dask worker)."""
    models.register("twin", Network, suffix=".npz", label="Twin", color="#2ca02c")
    data = {"data_dir": mnist_dir, "limit_train": 1000, "val_size": 500}
    config = resolve({"epochs": 1, "models": ["scratch", "twin"], "data": data})
    return execute(config, prepare_out_dir(Path(out), overwrite=False), quiet=True)


def test_a_daemonic_process_trains_every_model_itself(mnist_dir, tmp_path):
    from compare.workers import SPAWN

    with SPAWN.Pool(1) as pool:  # its worker is daemonic: it may not start processes
        summary = pool.apply(train_twins_here, (str(mnist_dir), str(tmp_path / "run")))
    assert summary["status"] == "complete"
    assert summary["environment"]["processes"]["worker_per_model"] is False
    assert summary["pairs"][0]["max_abs_weight_diff"] == [0.0]  # lockstep, in one process
