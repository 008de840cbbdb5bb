"""Hostile use of the three newest features: `sweep`, `check --model`, and `run` with a
worker process per model. Each case is something a demanding user did; each must end in
a one-line error (exit 2 bad input, 1 failure) or correct behaviour, never a traceback,
a hang or a lingering process."""

from __future__ import annotations

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
