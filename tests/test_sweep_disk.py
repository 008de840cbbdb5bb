"""`mnist-compare sweep` on a full disk or a read-only folder, and a sweep report never
replaced by a worse one (docs/sweep.md, "Faults" and "The report").

Real sweeps on real MNIST, kept tiny (the scratch network alone, 500 training images,
one epoch, `--jobs 1` so every run is in this process, where the `full_disk` fake of
tests/conftest.py reaches it); the read-only folders are real (`read_only`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_disk_limits import one_line, snapshot

from compare.cli import main
from reports.writing import rendering_id

pytestmark = [pytest.mark.mnist]

FIGURE = "figures/accuracy_by_model_learning_rate.png"


def write_sweep(folder: Path, mnist_dir: Path, rates: str) -> Path:
    path = folder / "grid.toml"
    path.write_text(
        f'seeds = 1\nepochs = 1\nmodels = ["scratch"]\n[data]\ndata_dir = "{mnist_dir}"\n'
        f'limit_train = 500\nval_size = 500\n[grid]\n"model.learning_rate" = [{rates}]\n',
        encoding="utf-8",
    )
    return path


def sweep_argv(path: Path, out: Path, *extra: str) -> list[str]:
    return ["sweep", str(path), "--out", str(out), "--jobs", "1", "--quiet", *extra]


@pytest.fixture(scope="module")
def tiny_sweep(mnist_dir, tmp_path_factory) -> Path:
    """A complete sweep of two runs with its report (the runs have none)."""
    folder = tmp_path_factory.mktemp("sweep-disk")
    out = folder / "sweep"
    path = write_sweep(folder, mnist_dir, "0.05, 0.1")
    assert main(sweep_argv(path, out, "--no-report")) == 0
    assert main(["report", str(out)]) == 0
    return out


@pytest.fixture
def sweep_copy(tiny_sweep, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_sweep, tmp_path / "sweep"))


def resume(out: Path, *extra: str) -> list[str]:
    return sweep_argv(out / "sweep.toml", out, "--resume", *extra)


def report_files(out: Path) -> dict[str, bytes]:
    return {name: data for name, data in snapshot(out).items() if "report" in name or "fig" in name}


# --- a full disk -------------------------------------------------------------------------


def test_a_full_disk_in_a_run_stops_the_sweep_and_resume_reuses_the_complete_run(
    mnist_dir, tmp_path, full_disk, monkeypatch, capsys
):
    """Three runs; the disk fills up in the second (at its examples.npz, after training):
    one line, exit 1, the first run kept, the second's partial files removed, and the
    re-run after space is freed trains the other two only."""
    out = tmp_path / "sweep"
    path = write_sweep(tmp_path, mnist_dir, "0.05, 0.1, 0.2")
    full_disk(out, "examples.npz", skip=1)
    err = one_line(capsys, 1, main(sweep_argv(path, out, "--no-report")), "No space left on")
    assert f"free some space and go on with: mnist-compare sweep {out / 'sweep.toml'}" in err
    assert "(its 1 complete run is kept)" in err
    first = out / "runs" / "learning_rate-0.05_seed-0"
    assert [p.name for p in (out / "runs").iterdir()] == [first.name]
    assert not [p for p in out.rglob(".*")], "a temp or lock file was left"
    stopped = json.loads((out / "sweep.json").read_text())
    assert stopped["status"] == "stopped"
    assert [run["status"] for run in stopped["runs"]] == ["complete", "failed", "not started"]
    assert "partial files were removed" in stopped["runs"][1]["error"]
    kept = (first / "summary.json").stat().st_mtime_ns

    monkeypatch.undo()  # space is freed
    assert main(resume(out, "--no-report")) == 0
    assert (first / "summary.json").stat().st_mtime_ns == kept  # reused, not trained again
    done = json.loads((out / "sweep.json").read_text())
    assert done["status"] == "complete"
    assert [run["status"] for run in done["runs"]] == ["complete"] * 3


def test_a_full_disk_at_the_sweeps_results_is_one_line_and_keeps_the_old_files(
    sweep_copy, full_disk, monkeypatch, capsys
):
    before = snapshot(sweep_copy)
    full_disk(sweep_copy, "sweep.csv")
    err = one_line(capsys, 1, main(resume(sweep_copy, "--no-report")), "No space left on")
    assert f"cannot write the sweep folder {sweep_copy}: " in err
    assert "(its 2 complete runs are kept)" in err
    after = snapshot(sweep_copy)
    assert after["sweep.csv"] == before["sweep.csv"]  # whole: the old content
    assert {k: v for k, v in after.items() if k != "sweep.json"} == {
        k: v for k, v in before.items() if k != "sweep.json"
    }  # every run, the report; sweep.json (whole) says the sweep stopped
    assert json.loads(after["sweep.json"])["status"] == "stopped"
    monkeypatch.undo()
    assert main(resume(sweep_copy, "--no-report")) == 0
    assert snapshot(sweep_copy)["sweep.csv"] == before["sweep.csv"]


def test_a_full_disk_at_the_sweep_report_keeps_the_old_report(
    sweep_copy, full_disk, monkeypatch, capsys
):
    before = report_files(sweep_copy)
    full_disk(sweep_copy, "report.")
    err = one_line(capsys, 1, main(resume(sweep_copy)), "cannot write the sweep report into")
    assert f"free some space and render it with: mnist-compare report {sweep_copy}" in err
    assert report_files(sweep_copy) == before
    # `report` replaces report.md and report.html together or neither (html fails here)
    monkeypatch.undo()
    full_disk(sweep_copy, "report.html")
    one_line(capsys, 1, main(["report", str(sweep_copy)]), "No space left on device")
    assert report_files(sweep_copy) == before
    assert not list(sweep_copy.glob(".*"))


# --- a read-only folder (real) --------------------------------------------------------------


@pytest.mark.parametrize("where", [".", "runs"])
def test_a_read_only_sweep_folder_is_refused_before_any_work(where, sweep_copy, read_only, capsys):
    shutil.rmtree(sweep_copy / "runs" / "learning_rate-0.1_seed-0")  # a run left to do
    before = snapshot(sweep_copy)
    read_only(sweep_copy / where)
    err = one_line(capsys, 2, main(resume(sweep_copy)), "cannot write the sweep folder")
    assert "make it writable or choose another --out" in err
    assert snapshot(sweep_copy) == before


# --- a damaged sweep folder: the report ------------------------------------------------------


def test_cells_csv_cut_short_is_named_in_place_and_its_figures_stay(sweep_copy):
    before = report_files(sweep_copy)
    cells = (sweep_copy / "cells.csv").read_bytes()
    (sweep_copy / "cells.csv").write_bytes(cells[: cells.index(b"accuracy_mean") + 5])
    (sweep_copy / "figures" / "accuracy_by_epochs.png").write_bytes(b"old")  # no longer drawn
    assert main(["report", str(sweep_copy)]) == 0
    markdown = (sweep_copy / "report.md").read_text()
    after_heading = markdown.split("## Accuracy per cell", 1)[1].lstrip().splitlines()[0]
    assert "This section is not drawn" in after_heading and "cells.csv" in after_heading
    assert "## Runs" in markdown  # the rest of the report is there
    assert (sweep_copy / FIGURE).read_bytes() == before[FIGURE]  # the only copy stays
    html = (sweep_copy / "report.html").read_text()
    assert rendering_id(markdown) == rendering_id(html) is not None
    assert rendering_id(before["report.md"].decode()) != rendering_id(markdown)
    assert (sweep_copy / "figures" / "accuracy_by_epochs.png").exists()  # damaged: all kept


def test_a_rerender_removes_the_old_figures_it_no_longer_draws(sweep_copy):
    (sweep_copy / "figures" / "accuracy_by_epochs.png").write_bytes(b"old")
    (sweep_copy / "figures" / "mine.png").write_bytes(b"the user's")
    assert main(["report", str(sweep_copy)]) == 0
    figures = sorted(p.name for p in (sweep_copy / "figures").iterdir())
    assert figures == ["accuracy_by_model_learning_rate.png", "mine.png"]


@pytest.mark.parametrize("damage", ["cut", "a list"])
def test_an_unreadable_sweep_json_leaves_the_old_report_whole(damage, sweep_copy, capsys):
    before = report_files(sweep_copy)
    info = (sweep_copy / "sweep.json").read_bytes()
    (sweep_copy / "sweep.json").write_bytes(info[:200] if damage == "cut" else b"[]")
    err = one_line(capsys, 2, main(["report", str(sweep_copy)]), "sweep.json")
    assert f"mnist-compare sweep {sweep_copy}/sweep.toml --out {sweep_copy} --resume" in err
    assert report_files(sweep_copy) == before


def test_after_a_full_disk_the_runs_stopped_with_the_sweep_are_removed(tmp_path):
    """With workers, the sweep's stop kills the runs in flight: those it started, still
    without summary.json, are removed (they hold the space); an earlier attempt's folder,
    a run with a summary, and a run another process still writes, stay."""
    from compare.runguard import locked
    from compare.sweep import _discard_stopped_runs, _identity

    runs = tmp_path / "runs"
    earlier, summary, busy, stopped = (runs / name for name in ("a", "b", "c", "d"))
    earlier.mkdir(parents=True)
    before = {name: _identity(runs / name) for name in ("a", "b", "c", "d")}
    for folder in (summary, busy, stopped):
        folder.mkdir()
        (folder / "config.toml").write_text("seed = 0\n")
    (summary / "summary.json").write_text("{}")
    (runs / ".d.lock").write_bytes(b"")  # left by the killed worker
    with locked(busy):
        _discard_stopped_runs(runs, before)
    assert sorted(p.name for p in runs.iterdir()) == ["a", "b", "c"]
