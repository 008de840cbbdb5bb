"""`mnist-compare sweep` on real MNIST: the same sweep on a real Dask cluster
(`dask.distributed.LocalCluster`, worker processes on localhost) and with `--jobs 1`
gives the same sweep.csv; a diverging cell is recorded and the sweep goes on; a sweep
stopped by SIGTERM is resumed with --resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from compare.cli import main

pytestmark = [pytest.mark.mnist, pytest.mark.slow]
WALL_TIME = ("train_seconds", "samples_per_second")  # measured time: differs run to run


def sweep_file(tmp_path, mnist_dir, grid, seeds=2, models='["scratch"]'):
    text = (
        f"seeds = {seeds}\nepochs = 1\nmodels = {models}\n"
        f'[data]\ndata_dir = "{mnist_dir}"\nlimit_train = 2000\nval_size = 1000\n'
        f"[grid]\n{grid}\n"
    )
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def read_csv(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def without_wall_time(rows):
    return [{k: v for k, v in row.items() if k not in WALL_TIME} for row in rows]


def test_a_dask_cluster_gives_the_same_sweep_csv_as_jobs_1(mnist_dir, tmp_path):
    from dask.distributed import LocalCluster

    path = sweep_file(tmp_path, mnist_dir, '"model.learning_rate" = [0.05, 0.1]')
    local, cluster_out = tmp_path / "local", tmp_path / "cluster"
    argv = ["sweep", str(path), "--no-report", "--quiet"]
    assert main([*argv, "--jobs", "1", "--out", str(local)]) == 0
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        address = cluster.scheduler_address
        assert main([*argv, "--scheduler", address, "--out", str(cluster_out)]) == 0
    rows = read_csv(local / "sweep.csv")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"complete"}
    assert len({r["test_accuracy"] for r in rows}) == 4  # four different runs
    # Every column but the wall-time ones, as written (floats as shortest repr): bit for bit.
    assert without_wall_time(read_csv(cluster_out / "sweep.csv")) == without_wall_time(rows)
    for row in rows:  # and the trained weights themselves
        with (
            np.load(local / row["run"] / "scratch.npz") as a,
            np.load(cluster_out / row["run"] / "scratch.npz") as b,
        ):
            assert sorted(a.files) == sorted(b.files)
            assert all(np.array_equal(a[k], b[k]) for k in a.files)
    info = json.loads((cluster_out / "sweep.json").read_text())
    assert info["status"] == "complete" and info["scheduler"].startswith("tcp://127.0.0.1")
    cells = read_csv(local / "cells.csv")
    assert [c["kind"] for c in cells] == ["model", "model"]
    assert cells[0]["model.learning_rate"] == "0.05" and cells[0]["complete"] == "2"


def test_a_diverging_cell_is_recorded_and_a_stopped_sweep_resumes(mnist_dir, tmp_path):
    path = sweep_file(tmp_path, mnist_dir, '"model.learning_rate" = [0.1, 1e30, 0.05]')
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "compare", "sweep", str(path), "--out", str(out),
               "--jobs", "1", "--no-report", "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    first = out / "runs" / "learning_rate-0.1_seed-0" / "summary.json"
    deadline = time.monotonic() + 120
    while not first.is_file() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert first.is_file(), process.stderr.read() if process.poll() is not None else "timeout"
    process.send_signal(signal.SIGTERM)  # as a scheduler or `kill` would
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    stopped = json.loads((out / "sweep.json").read_text())
    assert stopped["status"] == "interrupted"
    statuses = [run["status"] for run in stopped["runs"]]
    assert statuses[0] == "complete" and "not started" in statuses
    assert "complete" not in statuses[2:]  # the sweep stopped early
    kept = first.stat().st_mtime_ns

    code = main(["sweep", str(out / "sweep.toml"), "--out", str(out), "--jobs", "2",
                 "--resume", "--no-report", "--quiet"])  # fmt: skip
    assert code == 1  # the diverging cell failed; everything else ran
    assert first.stat().st_mtime_ns == kept  # the complete run was skipped, not redone
    done = json.loads((out / "sweep.json").read_text())
    assert done["status"] == "incomplete"  # every run tried; two diverged
    by_folder = {run["folder"]: run for run in done["runs"]}
    assert {f: r["status"] for f, r in by_folder.items()} == {
        "learning_rate-0.1_seed-0": "complete", "learning_rate-0.1_seed-1": "complete",
        "learning_rate-1e+30_seed-0": "diverged", "learning_rate-1e+30_seed-1": "diverged",
        "learning_rate-0.05_seed-0": "complete", "learning_rate-0.05_seed-1": "complete",
    }  # fmt: skip
    assert "diverged at epoch 1" in by_folder["learning_rate-1e+30_seed-0"]["error"]
    rows = read_csv(out / "sweep.csv")
    diverged = [r for r in rows if r["status"] == "diverged"]
    assert len(diverged) == 2 and all(r["test_accuracy"] == "" for r in diverged)
    assert all(float(r["test_accuracy"]) > 0.5 for r in rows if r["status"] == "complete")


def test_resume_with_other_models_or_data_retrains_and_keeps_the_old_runs(mnist_dir, tmp_path):
    path = sweep_file(tmp_path, mnist_dir, '"model.learning_rate" = [0.1]', seeds=1)
    out = tmp_path / "sweep"
    argv = ["sweep", str(path), "--out", str(out), "--no-report", "--quiet", "--jobs", "1"]
    assert main(argv) == 0
    run = out / "runs" / "learning_rate-0.1_seed-0"
    first = run.stat().st_mtime_ns
    assert main([*argv, "--resume"]) == 0  # the same settings: nothing to redo
    assert run.stat().st_mtime_ns == first
    import shutil

    other = shutil.copytree(mnist_dir, tmp_path / "other-mnist")  # another --data-dir
    assert main([*argv, "--resume", "--data-dir", str(other)]) == 0
    assert str(other) in (run / "config.toml").read_text()  # trained again, with that folder
    kept = [p.name for p in (out / "runs").iterdir() if ".other-config-" in p.name]
    assert len(kept) == 1  # the old run is kept beside it, never deleted


def _ctrl_c_to_myself(inside_a_run: bool) -> str:
    """Send SIGINT to this worker process, between runs or inside one."""
    from compare import sweeprun

    def poke() -> str:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler runs at the next bytecode; give it time
        return "alive"

    if not inside_a_run:
        return poke()
    try:
        with sweeprun._ctrl_c_interrupts_the_run():
            poke()
    except KeyboardInterrupt:
        return f"interrupted, then {signal.getsignal(signal.SIGINT)!r}"
    return "not interrupted"


def test_a_sweep_worker_ignores_ctrl_c_between_runs_and_takes_it_inside_one():
    """Ctrl-C goes to the whole process group; a loky worker between two runs must not
    die in joblib's code with a traceback, while a run in flight is interrupted."""
    from joblib import Parallel, delayed, parallel_config

    from compare.sweeprun import ignore_ctrl_c_between_runs

    with parallel_config(backend="loky", initializer=ignore_ctrl_c_between_runs):
        between, inside = Parallel(n_jobs=2)(
            delayed(_ctrl_c_to_myself)(inside_a_run) for inside_a_run in (False, True)
        )
    assert between == "alive"
    assert inside == "interrupted, then <Handlers.SIG_IGN: 1>"
