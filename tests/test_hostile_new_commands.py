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
