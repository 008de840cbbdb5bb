"""Issue 16, data loss: nothing a user made is ever lost (docs/run.md, "What is never lost").

Real MNIST, real run folders, real processes: the concurrent run is a second
`python -m compare run`, SIGTERM and SIGKILL are real signals sent to a real run.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from compare.cli import main

pytestmark = [pytest.mark.mnist]

REPO = Path(__file__).resolve().parents[1]
TINY = ["--models", "scratch", "--limit-train", "1000", "--val-size", "500", "--no-report"]


@pytest.fixture(scope="module")
def tiny_run(mnist_dir, tmp_path_factory) -> Path:
    """A complete real run folder (scratch only, 1,000 images, 1 epoch)."""
    out = tmp_path_factory.mktemp("never-lost") / "tiny"
    argv = ["run", "--data-dir", str(mnist_dir), *TINY, "--epochs", "1", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def copy_run(tiny_run: Path, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    return out, snapshot(out)


def start_run(mnist_dir: Path, out: Path, *extra: str) -> subprocess.Popen:
    """A real `mnist-compare run` that trains long enough to be stopped."""
    argv = [sys.executable, "-m", "compare", "run", "--data-dir", str(mnist_dir), *TINY]
    argv += ["--epochs", "500", "--quiet", "--out", str(out), *extra]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until_training(process: subprocess.Popen, out: Path, config_marker: str = "") -> None:
    """Until `out/config.toml` (of this run: it holds `config_marker`) exists, then 2 s more."""
    deadline = time.monotonic() + 120
    config = out / "config.toml"
    while time.monotonic() < deadline and process.poll() is None:
        if config.is_file() and config_marker in config.read_text():
            time.sleep(2)
            return
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"the run did not start training: {process.communicate()}")


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, err = process.communicate(timeout=120)
    return process.returncode, err.decode()


def status_of(folder: Path) -> str:
    return json.loads((folder / "summary.json").read_text())["status"]


def siblings(folder: Path, what: str) -> list[Path]:
    return sorted(folder.parent.glob(f"{folder.name}.{what}-*"))


def test_a_second_run_on_the_same_folder_is_refused_and_sigterm_keeps_results(mnist_dir, tmp_path):
    out = tmp_path / "run"
    first = start_run(mnist_dir, out)
    try:
        wait_until_training(first, out)
        second = subprocess.run(
            [sys.executable, "-m", "compare", "run", "--out", str(out), "--overwrite"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 2 and second.stderr.count("\n") == 1
        assert "is being written by another mnist-compare run" in second.stderr
        first.send_signal(signal.SIGTERM)  # as `timeout`, `kill` and schedulers do
        code, err = finish(first)
    finally:
        first.kill()
    assert code == 130, err
    assert status_of(out) == "interrupted"
    assert (out / "scratch.npz").is_file() and (out / "metrics.csv").is_file()
    assert not (tmp_path / ".run.lock").exists() and not (tmp_path / ".run.previous").exists()


def test_overwrite_interrupted_by_sigterm_puts_the_old_run_back(mnist_dir, tiny_run, tmp_path):
    out, before = copy_run(tiny_run, tmp_path)
    process = start_run(mnist_dir, out, "--overwrite")
    try:
        wait_until_training(process, out, config_marker="epochs = 500")
        process.send_signal(signal.SIGTERM)
        code, err = finish(process)
    finally:
        process.kill()
    assert code == 130, err
    assert snapshot(out) == before  # the old run, to the byte
    [kept] = siblings(out, "interrupted")
    assert status_of(kept) == "interrupted" and str(kept) in err
    assert not (tmp_path / ".run.previous").exists()


def test_overwrite_that_diverges_puts_the_old_run_back(mnist_dir, tiny_run, tmp_path, capsys):
    out, before = copy_run(tiny_run, tmp_path)
    argv = ["run", "--data-dir", str(mnist_dir), *TINY, "--epochs", "2", "--lr", "1e30"]
    code = main([*argv, "--quiet", "--out", str(out), "--overwrite"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "diverged" in err
    assert snapshot(out) == before
    [kept] = siblings(out, "diverged")
    assert status_of(kept) == "diverged" and str(kept) in err


def test_overwrite_killed_by_sigkill_is_restored_by_the_next_command(
    mnist_dir, tiny_run, tmp_path, capsys
):
    out, before = copy_run(tiny_run, tmp_path)
    process = start_run(mnist_dir, out, "--overwrite")
    try:
        wait_until_training(process, out, config_marker="epochs = 500")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert (tmp_path / ".run.previous").is_dir()  # the state SIGKILL leaves
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "restored the intact previous run" in err and "delete" not in err
    assert not (tmp_path / ".run.previous").exists()
    assert {k: v for k, v in snapshot(out).items() if k in before} == before
    assert siblings(out, "unfinished") == []  # the killed run held config.toml only


def test_run_overwrite_restores_a_leftover_previous_run_first(tmp_path, capsys):
    out, previous = tmp_path / "run", tmp_path / ".run.previous"
    for folder in (out, previous):
        folder.mkdir()
        (folder / "summary.json").write_text(folder.name)
    argv = ["run", "--out", str(out), "--overwrite", "--data-dir", str(tmp_path / "nowhere")]
    assert main(argv) == 2  # no MNIST there: fails before training, after the recovery
    err = capsys.readouterr().err
    assert "restored the intact previous run" in err and "delete" not in err
    assert (out / "summary.json").read_text() == ".run.previous"
    [kept] = siblings(out, "unfinished")
    assert (kept / "summary.json").read_text() == "run" and str(kept) in err
    assert not previous.exists()


@pytest.mark.parametrize("command", ["report", "predict"])
def test_a_folder_left_by_sigkill_is_named_an_unfinished_run(command, tiny_run, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(tiny_run / "config.toml", out / "config.toml")
    argv = ["report", str(out)] if command == "report" else ["predict", "x.png", "--run", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is an unfinished run" in err and "--overwrite" in err


@pytest.fixture
def digit_png(mnist, tmp_path) -> Path:
    path = tmp_path / "digit.png"
    assert cv2.imwrite(str(path), 255 - mnist.test_images[0])
    return path


def predict(run: Path, *argv: str) -> int:
    return main(["predict", *argv, "--run", str(run)])


def test_show_never_overwrites_an_input_image(tiny_run, digit_png, capsys):
    before = digit_png.read_bytes()
    assert predict(tiny_run, str(digit_png), "--show", str(digit_png), "--overwrite") == 2
    assert "is an input image" in capsys.readouterr().err
    assert digit_png.read_bytes() == before


def test_show_replaces_only_its_own_figures_unless_overwrite(tiny_run, digit_png, capsys):
    figure = digit_png.with_name("figure.png")
    figure.write_bytes(b"a user's file")
    assert predict(tiny_run, str(digit_png), "--show", str(figure)) == 2
    assert "not a figure mnist-compare wrote" in capsys.readouterr().err
    assert figure.read_bytes() == b"a user's file"
    assert predict(tiny_run, str(digit_png), "--show", str(figure), "--overwrite") == 0
    first = figure.read_bytes()
    assert first[:4] == b"\x89PNG"
    assert predict(tiny_run, str(digit_png), "--show", str(figure)) == 0  # our own: replaced
    for suffix in (".jpg", ".pdf", ".svg"):
        own = figure.with_suffix(suffix)
        assert predict(tiny_run, str(digit_png), "--show", str(own)) == 0
        assert predict(tiny_run, str(digit_png), "--show", str(own)) == 0, suffix


def test_show_names_never_collide(tiny_run, mnist, tmp_path):
    images = []
    for folder, name in (("a", "7.png"), ("b", "7.png"), ("c", "7-2.png")):
        (tmp_path / folder).mkdir()
        images.append(tmp_path / folder / name)
        assert cv2.imwrite(str(images[-1]), 255 - mnist.test_images[0])
    assert predict(tiny_run, *map(str, images), "--show", str(tmp_path / "f.png")) == 0
    assert sorted(p.name for p in tmp_path.glob("f-*.png")) == [
        "f-7-2-2.png",
        "f-7-2.png",
        "f-7.png",
    ]
