"""Issue 16, signals and disks: a full disk and a read-only target are one line for `run`,
`report`, `check --json` and `predict --show`; they leave no partial file, and an old
run, report or figure stays as it was (docs/run.md, "What is never lost").

The full disk is one fake, `full_disk` (tests/conftest.py, shared with the sweep's
tests): a file opened for writing in the given folder is opened on /dev/full instead, so
the kernel itself answers every write with ENOSPC, as a full disk does (creating the
empty temp file still works, as on a real full disk). The read-only folder is real
(`read_only`): chmod 555, plus `chattr +i` when the tests run as root (root ignores
permission bits; an immutable folder refuses root too).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import cv2
import pytest

from compare.cli import main
from compare.summaryfile import peek_summary

pytestmark = [pytest.mark.mnist]

TINY = ["--models", "scratch", "--limit-train", "1000", "--val-size", "500", "--epochs", "1"]


@pytest.fixture(scope="module")
def tiny_run(mnist_dir, tmp_path_factory) -> Path:
    """A complete real run folder (scratch only, 1,000 images, 1 epoch), no report."""
    out = tmp_path_factory.mktemp("disk-limits") / "tiny"
    argv = ["run", "--data-dir", str(mnist_dir), *TINY, "--quiet", "--no-report"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def one_line(capsys, code: int, returned: int, says: str) -> str:
    err = capsys.readouterr().err
    assert returned == code, err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too: a temp file left behind shows)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def copy_run(tiny_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    return out


# --- a full disk ---------------------------------------------------------------------


@pytest.mark.parametrize("old_run", [False, True], ids=["new-folder", "overwrite"])
def test_run_on_a_full_disk_leaves_nothing_and_the_old_run_intact(
    old_run, tiny_run, mnist_dir, tmp_path, full_disk, capsys
):
    """The disk fills up after training, at examples.npz: the new run's files are
    removed, the old run is back byte for byte, no temp or lock file is left."""
    out = copy_run(tiny_run, tmp_path) if old_run else tmp_path / "run"
    before = snapshot(tmp_path)
    full_disk(tmp_path, "examples.npz")
    argv = ["run", "--data-dir", str(mnist_dir), *TINY, "--quiet", "--no-report"]
    returned = main([*argv, "--out", str(out), *(["--overwrite"] if old_run else [])])
    err = one_line(capsys, 1, returned, "No space left on device; free some space")
    assert "partial files were removed" in err
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == (["run"] if old_run else [])


def test_a_full_disk_after_a_completed_seed_keeps_that_seed(mnist_dir, tmp_path, full_disk, capsys):
    """Three seeds; the disk fills up after the first completed (at the second write of
    seeds.csv): the first seed's files and summary.json stay, with a status that says
    the run did not finish, and `report` renders them (issue 16, item 6)."""
    out = tmp_path / "run"
    full_disk(tmp_path, "seeds.csv", skip=1)
    argv = ["run", "--data-dir", str(mnist_dir), *TINY, "--seeds", "3", "--quiet"]
    returned = main([*argv, "--no-report", "--out", str(out)])
    err = one_line(capsys, 1, returned, "No space left on device; free some space")
    assert f"the seeds completed before are kept in {out}, summary.json status running" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "running" and summary["multi_seed"]["seeds"] == [0]
    assert (out / "scratch.npz").is_file() and not list(tmp_path.glob(".*"))
    assert main(["report", str(out)]) == 0


def test_report_on_a_full_disk_keeps_the_old_report(tiny_run, tmp_path, full_disk, capsys):
    out = copy_run(tiny_run, tmp_path)
    (out / "report.html").write_text("old html")
    (out / "report.md").write_text("old md")
    (out / "figures").mkdir()
    (out / "figures" / "learning_curves.png").write_bytes(b"old png")
    before = snapshot(out)
    full_disk(out)
    one_line(capsys, 1, main(["report", str(out)]), "No space left on device")
    assert snapshot(out) == before


def test_predict_show_on_a_full_disk_keeps_the_old_figure(
    tiny_run, mnist, tmp_path, full_disk, capsys
):
    image, figure = tmp_path / "7.png", tmp_path / "figures" / "fig.png"
    assert cv2.imwrite(str(image), 255 - mnist.test_images[0])
    figure.parent.mkdir()
    argv = ["predict", str(image), "--run", str(tiny_run), "--show", str(figure)]
    assert main(argv) == 0
    before = snapshot(figure.parent)
    capsys.readouterr()
    full_disk(figure.parent)
    one_line(capsys, 1, main(argv), f"cannot write --show figure {figure}: No space left")
    assert snapshot(figure.parent) == before


def test_check_json_on_a_full_disk_is_one_line_and_no_file(tmp_path, full_disk):
    """The check itself (TensorFlow, minutes) is not the point: its one writer is."""
    from compare.check import CheckResult, write_json
    from compare.cli import CliError

    path = tmp_path / "check.json"
    full_disk(tmp_path)
    with pytest.raises(CliError, match=f"cannot write --json {path}: No space left") as error:
        write_json(CheckResult(passed=True, rows=[], header={}), path)
    assert error.value.exit_code == 1 and list(tmp_path.iterdir()) == []


# --- a read-only folder (real) ---------------------------------------------------------


def test_run_into_a_read_only_folder_is_one_line(tmp_path, read_only, capsys):
    read_only(tmp_path)
    argv = ["run", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]
    one_line(capsys, 2, main(argv), "cannot write the output folder")


def test_report_of_a_read_only_run_folder_changes_nothing(tiny_run, tmp_path, read_only, capsys):
    out = copy_run(tiny_run, tmp_path)
    before = snapshot(out)
    read_only(out)
    one_line(capsys, 2, main(["report", str(out)]), "copy the folder somewhere you can write")
    assert snapshot(out) == before


def test_predict_show_and_check_json_into_a_read_only_folder(tmp_path, read_only, capsys):
    """Refused before any work: no run folder is read, no check is run."""
    read_only(tmp_path)
    show = ["predict", "x.png", "--run", str(tmp_path / "none"), "--show", str(tmp_path / "f.png")]
    one_line(capsys, 2, main(show), "choose a folder you can write")
    check = ["check", "--json", str(tmp_path / "check.json")]
    one_line(capsys, 2, main(check), "choose a folder you can write")
    assert list(tmp_path.iterdir()) == []


# --- refused commands, killed runs, Ctrl-C in the report --------------------------------


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_refused_command_creates_no_folder(command, tmp_path, monkeypatch, capsys):
    """A refusal after the --out check (here: no MNIST) left an empty runs/ or sweeps/."""
    monkeypatch.chdir(tmp_path)
    nowhere = str(tmp_path / "nowhere")
    if command == "sweep":
        (tmp_path / "s.toml").write_text('[grid]\n"model.learning_rate" = [0.1, 0.2]\n')
        argv = ["sweep", "s.toml", "--data-dir", nowhere]
    else:
        argv = ["run", "--data-dir", nowhere, "--out", "a/b/c"]
    one_line(capsys, 2, main(argv), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["s.toml"] if command == "sweep" else [])


def test_run_names_a_folder_left_by_sigkill_an_unfinished_run(tiny_run, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(tiny_run / "config.toml", out / "config.toml")
    argv = ["run", "--data-dir", str(tmp_path / "nowhere"), "--out", str(out)]
    one_line(capsys, 2, main(argv), "already exists, an unfinished run (config.toml but no")
    assert main([*argv, "--overwrite"]) == 2  # no MNIST there: after the note
    err = capsys.readouterr().err
    assert f"note: replacing {out}, an unfinished run" in err and "does not exist" in err
    assert [p.name for p in out.iterdir()] == ["config.toml"]  # put back as it was


def test_ctrl_c_while_the_report_renders_says_the_run_is_complete(mnist_dir, tmp_path, capsys):
    """A real SIGINT to this process once summary.json says complete (the report follows;
    a "running" summary is written after each seed, before the run is complete)."""
    out, done = tmp_path / "run", threading.Event()

    def complete() -> bool:
        summary = peek_summary(out)
        return summary is not None and summary.get("status") == "complete"

    def interrupt_after_the_summary() -> None:
        deadline = time.monotonic() + 120
        while not complete() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # rendering takes seconds; never interrupt pytest itself
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=interrupt_after_the_summary, daemon=True)
    watcher.start()
    try:
        returned = main(["run", "--data-dir", str(mnist_dir), *TINY, "--quiet", "--out", str(out)])
    finally:
        done.set()
    watcher.join()
    err = one_line(capsys, 130, returned, f"the run in {out} is complete")
    assert f"mnist-compare report {out}" in err
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert not list(out.rglob(".*")), "a temp file was left behind"


# --- small ones: messages ----------------------------------------------------------------


def test_a_model_that_cannot_load_names_its_path_once_with_one_remedy(tiny_run, tmp_path, capsys):
    out = copy_run(tiny_run, tmp_path)
    (out / "scratch.npz").write_text("not a model\n")
    err = one_line(capsys, 2, main(["predict", "x.png", "--run", str(out)]), "not a zip archive")
    assert err.count(str(out / "scratch.npz")) == 1 and err.count("; ") == 1, err
    assert "pickle" not in err  # NumPy's advice to load it unsafely


def test_a_long_library_message_is_cut_between_sentences_only():
    from scratch.errors import first_sentences

    refusal = (
        "Requested the deserialization of a `Lambda` layer whose `function` is a Python "
        "lambda. This carries a potential risk of arbitrary code execution and thus it is "
        "disallowed by default. If you trust the source of the artifact, you can override "
        "this error by passing `safe_mode=False` to the loading function, or calling "
        "`keras.config.enable_unsafe_deserialization()`.\nmore"
    )  # Keras's safe_mode refusal: it was cut at 200 characters, mid-sentence
    assert first_sentences(refusal) == refusal[: refusal.index("disallowed by default.") + 22]
    assert first_sentences("one sentence with no end " * 20).endswith("no end")


def test_a_range_message_never_offers_infinity(tmp_path, capsys):
    argv = ["run", "--lr", "-1", "--out", str(tmp_path / "run")]
    err = one_line(capsys, 2, main(argv), "--lr must be a number > 0, got -1.0")
    assert "inf" not in err


def test_an_unreadable_data_file_is_named_as_such_not_as_a_write_failure(
    mnist_dir, tmp_path, capsys
):
    """A data file that cannot be read (here: a link to /proc/self/mem, whose reading
    fails with EIO even for root) is a one-line data error, never a traceback or
    "cannot write the run folder"."""
    data = tmp_path / "data"
    data.mkdir()
    for file in mnist_dir.glob("*.gz"):
        (data / file.name).symlink_to(file)
    victim = next(data.glob("t10k-labels*"))
    victim.unlink()
    victim.symlink_to("/proc/self/mem")
    argv = ["run", "--data-dir", str(data), *TINY[:-2], "--quiet", "--out", str(tmp_path / "r")]
    err = one_line(capsys, 2, main(argv), f"{victim}: cannot read (Input/output error)")
    assert "run folder" not in err and not (tmp_path / "r").exists()
