"""Shared fixtures. Real-MNIST tests read the files from $MNIST_DATA_DIR (CI sets it
to ../shared/data/mnist); when unset we fall back to ../shared/data/mnist beside the
repository. If neither holds MNIST, real-data tests FAIL: they never skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"

# Keep TensorFlow quiet in every test process (and the subprocesses tests start).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One OpenBLAS thread: on 2 shared cores, with TensorFlow's pools in the same process,
# two spinning BLAS threads make the scratch network 5-100x slower (compare/threads.py).
# Set before NumPy is imported so it holds for the whole session.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder with the real MNIST files; fails the test if it is missing."""
    from compare.data import ENV_DATA_DIR, missing_files

    candidate = os.environ.get(ENV_DATA_DIR) or str(SHARED_MNIST)
    directory = Path(candidate)
    if not directory.is_dir() or missing_files(directory):
        pytest.fail(
            f"real MNIST not found in {directory}: set {ENV_DATA_DIR} to the folder "
            "with the four MNIST .gz files (CI uses ../shared/data/mnist)"
        )
    return directory


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The verified real MNIST arrays (uint8), loaded once per test session."""
    from compare.data import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """Real MNIST splits with 2,000 training images (float32): quick integration tests."""
    from compare.data import make_splits

    return make_splits(mnist, val_size=1000, seed=0, limit_train=2000)


@pytest.fixture(scope="session")
def quick_run(mnist_dir, tmp_path_factory) -> Path:
    """One finished real run folder (both models, 10,000 training images, 3 epochs),
    made once per session by the real CLI and shared by run, report and predict tests."""
    from compare.cli import main

    out = tmp_path_factory.mktemp("runs") / "quick"
    argv = ["run", "--data-dir", str(mnist_dir), "--limit-train", "10000", "--epochs", "3"]
    code = main([*argv, "--out", str(out), "--quiet"])
    assert code == 0, f"mnist-compare run exited {code}"
    return out


@pytest.fixture(scope="session")
def scratch_only_run(mnist_dir, tmp_path_factory) -> Path:
    """A finished real run folder of the scratch network alone, with its report (2,000
    training images, 1 epoch: a few seconds), made once per session by the real CLI."""
    from compare.cli import main

    out = tmp_path_factory.mktemp("runs") / "scratch-only"
    argv = ["run", "--data-dir", str(mnist_dir), "--models", "scratch", "--limit-train", "2000"]
    argv += ["--val-size", "1000", "--epochs", "1", "--standardize"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out
