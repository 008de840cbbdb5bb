"""Shared fixtures. Real-MNIST tests read the files from $MNIST_DATA_DIR (CI sets it
to ../shared/data/mnist); when unset we fall back to ../shared/data/mnist beside the
repository. If neither holds MNIST, real-data tests FAIL: they never skip."""

from __future__ import annotations

import builtins
import io
import os
import shutil
import subprocess
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


# --- a full disk and a read-only folder (tests/test_disk_limits.py, test_sweep_disk.py) ---

DEV_FULL = Path("/dev/full")


@pytest.fixture
def full_disk(monkeypatch):
    """`full_disk(folder, name="", skip=0)`: from now on, every file opened for writing
    inside `folder` (whose name contains `name`; after the first `skip` such files) is
    created, empty, and the handle returned is /dev/full's: each write fails with ENOSPC."""
    if not DEV_FULL.exists():
        pytest.skip("no /dev/full on this machine")
    real_open = builtins.open

    def install(folder: Path, name: str = "", skip: int = 0) -> None:
        folder = folder.resolve()
        passed = [0]

        def open_on_full_disk(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
            if isinstance(file, str | os.PathLike) and ("w" in mode or "x" in mode):
                path = Path(file).resolve()
                if folder in path.parents and name in path.name and passed[0] >= skip:
                    real_open(file, mode).close()  # the file is made; its content is refused
                    return real_open(DEV_FULL, mode.replace("x", "w"), *args, **kwargs)
                if folder in path.parents and name in path.name:
                    passed[0] += 1
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", open_on_full_disk)
        monkeypatch.setattr(io, "open", open_on_full_disk)  # pathlib opens through io.open

    return install


@pytest.fixture
def read_only():
    """`read_only(folder)`: make `folder` refuse new files for real, until the test ends."""
    made: list[Path] = []

    def install(folder: Path) -> None:
        folder.chmod(0o555)
        made.append(folder)
        if os.geteuid() == 0 and shutil.which("chattr"):  # root ignores the mode bits
            subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        try:
            (folder / ".probe").write_bytes(b"")
        except OSError:
            return
        (folder / ".probe").unlink()
        pytest.skip("root ignores permissions here and chattr +i is unavailable")

    yield install
    for folder in made:
        if shutil.which("chattr"):
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)
        folder.chmod(0o755)
