"""Hostile use of the three newest features: `sweep`, `check --model`, and `run` with a
worker process per model. Each case is something a demanding user did; each must end in
a one-line error (exit 2 bad input, 1 failure) or correct behaviour, never a traceback,
a hang or a lingering process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_model_workers_start_inside_a_loky_sweep_worker(tmp_path):
    """A two-model sweep runs each run in a joblib (loky) worker, whose default start
    method is "loky"; the model workers it spawns must not inherit that name (they died
    at once with "cannot find context for 'loky'", so every run of the sweep failed)."""
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent("""
        import time
        from joblib import Parallel, delayed

        def start_model_worker():
            from compare import workers
            with workers._stdlib_start_method():
                process = workers.SPAWN.Process(target=time.sleep, args=(0,))
                process.start()
            process.join(60)
            return process.exitcode

        if __name__ == "__main__":
            calls = [delayed(start_model_worker)() for _ in range(2)]
            print(Parallel(n_jobs=2, backend="loky")(calls))
    """)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 0]", done.stderr[-2000:]


# --- mnist-compare sweep ------------------------------------------------------------------

SMALL_SWEEP = """\
seeds = 1
epochs = 1
models = ["scratch"]
[data]
limit_train = 2000
val_size = 500
[grid]
"model.learning_rate" = [0.01, 0.05]
"""


@pytest.fixture
def sweep_file(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(SMALL_SWEEP)
    return path


def one_line_error(capsys, code, returned):
    err = capsys.readouterr().err
    assert returned == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("address", ["nonsense", "http://127.0.0.1:8786"])
def test_sweep_scheduler_bad_address_is_one_line(sweep_file, tmp_path, capsys, address):
    from compare.cli import main

    returned = main(
        ["sweep", str(sweep_file), "--out", str(tmp_path / "o"), "--scheduler", address]
    )
    assert "not a Dask scheduler's address" in one_line_error(capsys, 2, returned)
    assert not (tmp_path / "o").exists()


def test_sweep_scheduler_that_never_answers_fails_in_time(
    sweep_file, tmp_path, capsys, monkeypatch
):
    """A port that accepts the connection but never speaks (a web server, a firewall's
    proxy) kept Dask's handshake waiting forever."""
    import socket
    import time

    from compare import sweep
    from compare.cli import main

    monkeypatch.setattr(sweep, "CONNECT_SECONDS", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # the kernel accepts; nobody ever reads or writes
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        returned = main(["sweep", str(sweep_file), "--out", str(tmp_path / "o"),
                         "--scheduler", address])  # fmt: skip
        assert time.monotonic() - started < 20
    assert "cannot reach the Dask scheduler" in one_line_error(capsys, 2, returned)


@pytest.mark.mnist
def test_sweep_huge_jobs_starts_no_more_workers_than_runs(sweep_file, mnist_dir, tmp_path, capsys):
    """--jobs 100000 made loky try to start 100000 processes (it hung)."""
    from compare.cli import main

    out = tmp_path / "o"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--jobs", "100000", "--no-report",
            "--data-dir", str(mnist_dir)]  # fmt: skip
    assert main(argv) == 0
    assert "2 to run on 2 worker(s)" in capsys.readouterr().err
    assert (out / "sweep.csv").read_text().count("complete") == 2


def group_processes(group: int) -> list[str]:
    """The command lines of the live (not zombie) processes in process group `group`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


@pytest.mark.mnist
@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c"])  # SIGTERM: tests/test_sweep.py
def test_sweep_stopped_midway_then_resume(tmp_path, mnist_dir, how):
    """SIGTERM to the sweep, or Ctrl-C (SIGINT to its whole process group, as a terminal
    sends it) while runs are in flight: a clean stop (exit 130, no warning
    or traceback, no process left behind, status interrupted), then --resume finishes."""
    import json
    import os
    import signal
    import time

    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(
        SMALL_SWEEP.replace("seeds = 1", "seeds = 3")
        .replace("limit_train = 2000", "limit_train = 20000")
        .replace("epochs = 1", "epochs = 3")
    )
    out = tmp_path / "s"
    env = {**os.environ, "MNIST_DATA_DIR": str(mnist_dir)}
    argv = [sys.executable, "-m", "compare", "sweep", str(sweep_file), "--out", str(out),
            "--jobs", "2", "--no-report"]  # fmt: skip
    sweep = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(out.glob("runs/*/summary.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    if how == "sigterm":
        sweep.send_signal(signal.SIGTERM)
    else:
        os.killpg(sweep.pid, signal.SIGINT)
    err = sweep.communicate(timeout=60)[1]
    assert sweep.returncode == 130, err
    assert "Traceback" not in err and "Warning" not in err, err
    time.sleep(1)
    assert group_processes(sweep.pid) == []
    info = json.loads((out / "sweep.json").read_text())
    assert info["status"] == "interrupted"
    assert any(run["status"] != "complete" for run in info["runs"])
    resumed = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True,
                             timeout=120)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((out / "sweep.json").read_text())
    assert [run["status"] for run in info["runs"]] == ["complete"] * 6


# --- mnist-compare check --model -------------------------------------------------------

HOSTILE_NETS = """\
import sys
import numpy as np
from project_ok import ProjectNet

NOT_CALLABLE = 42

class ExitsInInit:
    def __init__(self, sizes):
        sys.exit("bye")

class WrongShape(ProjectNet):
    def predict_proba(self, x):
        return np.zeros((len(x), 7))

class NoneProba(ProjectNet):
    def predict_proba(self, x):
        return None

class NoneWeights(ProjectNet):
    def get_weights(self):
        return None

class NoneLossGrads(ProjectNet):
    def loss_and_gradients(self, x, y):
        return None

class NaNStep(ProjectNet):
    def train_step(self, x, y):
        self.weights = [w * np.nan for w in self.weights]
        return float("nan")

class Chatty(ProjectNet):
    def train_step(self, x, y):
        print("debug: a learner's print")
        return super().train_step(x, y)

class TermInStep(ProjectNet):
    def train_step(self, x, y):
        import os, signal
        os.kill(os.getpid(), signal.SIGTERM)  # as `kill` or a scheduler would
        return super().train_step(x, y)

class Exits(ProjectNet):
    def train_step(self, x, y):
        sys.exit(3)
"""


@pytest.fixture
def nets(tmp_path):
    import shutil

    shutil.copy(REPO_ROOT / "tests" / "usernets" / "project_ok.py", tmp_path)
    (tmp_path / "hostile.py").write_text(HOSTILE_NETS)
    (tmp_path / "syntax.py").write_text("x = (\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "folder.py").mkdir()
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("_mnist_compare_user_")]:
        del sys.modules[name]


@pytest.mark.parametrize(
    "model, code, says",
    [
        ("folder.py:Net", 2, "is a folder"),
        ("notes.txt:Net", 2, "is not a Python file"),
        ("syntax.py:Net", 2, "syntax.py:1 in <module>"),
        ("exits.py:Net", 2, "called sys.exit(0)"),  # exited 0 silently: a "pass"
        ("hostile.py:NOT_CALLABLE", 2, "NOT_CALLABLE is a int, not a class"),
        ("hostile.py:ExitsInInit", 2, "called sys.exit('bye')"),  # was exit 1, 'bye'
    ],
)
def test_check_model_that_cannot_load_is_one_line(nets, capsys, monkeypatch, model, code, says):
    from compare.cli import main

    monkeypatch.chdir(nets)
    monkeypatch.setattr(sys, "path", list(sys.path))
    err = capsys.readouterr().err
    returned = main(["check", "--model", model, "--steps", "2"])
    err = capsys.readouterr().err
    assert returned == code, err
    assert "Traceback" not in err and says in err, err


@pytest.mark.mnist
@pytest.mark.keras
@pytest.mark.slow
def test_check_model_returning_nonsense_is_one_line(nets, mnist_dir, capsys, monkeypatch):
    """Wrong output shapes, None for weights/outputs/gradients, NaN after a step and
    sys.exit() in a step: each a one-line error (they were tracebacks, or a wrong
    diagnosis, or a silent exit)."""
    from compare.cli import main

    monkeypatch.chdir(nets)
    monkeypatch.setattr(sys, "path", list(sys.path))
    cases = {
        "WrongShape": (1, "returned an array of shape (32, 7); expected probabilities of shape"),
        "NoneProba": (1, "predict_proba(x) returned None"),
        "NoneWeights": (2, "get_weights() returned None; expected a list of arrays"),
        "NoneLossGrads": (1, "loss_and_gradients(x, y) returned None"),
        "NaNStep": (1, "returned NaN or inf"),
        "Exits": (1, "called sys.exit(3)"),
        "TermInStep": (130, "interrupted"),  # was killed outright (exit 143, no message)
    }
    for name, (code, says) in cases.items():
        argv = ["check", "--model", f"hostile.py:{name}", "--steps", "2", "--limit-train",
                "500", "--data-dir", str(mnist_dir)]  # fmt: skip
        returned = main(argv)
        err = capsys.readouterr().err
        assert returned == code, (name, err)
        assert "Traceback" not in err and says in err, (name, err)
    argv = ["check", "--model", "hostile.py:Chatty", "--steps", "2", "--limit-train", "500",
            "--data-dir", str(mnist_dir)]  # fmt: skip
    assert main(argv) == 0
    shown = capsys.readouterr()
    assert "debug" not in shown.out and shown.err.count("debug: a learner's print") == 2


# --- mnist-compare run, one worker process per model ------------------------------------


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_output_folder_that_cannot_be_written_is_one_line(sweep_file, capsys, command):
    """/sys refuses new files (to root too, unlike a chmod 555 folder): the run lock
    beside the folder cannot be made. It was a PermissionError traceback."""
    from compare.cli import main

    out = "/sys/mnist-compare-hostile-test"
    argv = ["run", "--models", "scratch", "--limit-train", "500", "--no-report", "--quiet"]
    if command == "sweep":
        argv = ["sweep", str(sweep_file), "--no-report", "--quiet"]
    returned = main([*argv, "--out", out])
    assert "cannot write the output folder" in one_line_error(capsys, 2, returned)
    assert not Path(out).exists()


def test_sweep_astronomic_grid_is_refused_before_it_is_built(tmp_path, capsys):
    """6 keys x 60 values: 4.7e10 cells. The product was built before the size check
    (MemoryError traceback, after eating the memory of a shared machine)."""
    from compare.cli import main

    values = "[" + ", ".join(str(i + 1) for i in range(60)) + "]"
    keys = ["epochs", "batch_size", '"model.learning_rate"', '"model.l2"',
            '"data.limit_train"', '"data.val_size"']  # fmt: skip
    path = tmp_path / "huge.toml"
    path.write_text("seeds = 1\n[grid]\n" + "".join(f"{key} = {values}\n" for key in keys))
    returned = main(["sweep", str(path), "--out", str(tmp_path / "o")])
    assert "46656000000 cells is more than 10000" in one_line_error(capsys, 2, returned)


def test_sweep_missing_data_folder_is_one_line_before_any_run(sweep_file, tmp_path, capsys):
    """Every run failed on its own with the same DataError (and, without a data folder,
    every worker downloaded MNIST at once)."""
    from compare.cli import main

    out = tmp_path / "o"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--data-dir", str(tmp_path / "none")]
    assert "does not exist or is not a folder" in one_line_error(capsys, 2, main(argv))
    assert not out.exists()


TWIN_RUN = """
import sys
from compare import models
from compare.cli import main
from scratch import Network

if __name__ == "__main__":
    models.register("twin", Network, suffix=".npz", label="Twin", color="#2ca02c")
    sys.exit(main(["run", "--models", "scratch,twin", *sys.argv[1:]]))
"""


@pytest.mark.mnist
@pytest.mark.slow
def test_model_workers_exit_when_the_coordinator_is_killed(tmp_path, mnist_dir):
    """kill -9 of `run` (no handler runs): its model workers must not train on forever."""
    import os
    import signal
    import time

    script = tmp_path / "twins.py"
    script.write_text(TWIN_RUN)
    argv = [sys.executable, str(script), "--limit-train", "20000", "--epochs", "50",
            "--data-dir", str(mnist_dir), "--out", str(tmp_path / "r"), "--no-report",
            "--quiet", "--schedule", "parallel"]  # fmt: skip
    run = subprocess.Popen(argv, cwd=REPO_ROOT, start_new_session=True, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while sum("spawn_main" in c for c in group_processes(run.pid)) < 2:
            assert time.monotonic() < deadline and run.poll() is None, run.stderr.read()
            time.sleep(0.2)  # until both model workers are up (the spawned children)
        time.sleep(1)
        run.kill()
        run.wait()
        deadline = time.monotonic() + 20
        while group_processes(run.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert group_processes(run.pid) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
