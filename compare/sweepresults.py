"""A sweep's result files, rebuilt from its run folders: sweep.json, sweep.csv, cells.csv.

Everything is read back from each run's summary.json, so the files are the same
whatever order the runs finished in, and on which machine (`--jobs 1`, `--jobs 2` or a
Dask cluster). Rows follow the sweep's order: cell, seed, model. Floats are written with
Python's shortest round-trip repr, so equal files mean bit-identical results.

- sweep.csv: one row per run x model: the swept keys, test accuracy and loss, train
  seconds and samples per second (those two are wall time: they differ between runs).
- cells.csv: per cell and model, accuracy mean, sd and 95% t interval over the seeds
  (`kind` model); per cell and pair of models, the paired a - b accuracy difference with
  its interval, paired t test and Holm-adjusted p over the cells (`kind` pair), and the
  median of the per-seed speed ratios a / b in samples per second.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from compare import metrics, runfolder
from compare.runguard import run_status
from compare.summary import now
from compare.summaryfile import peek_summary
from compare.sweepconfig import Sweep

SWEEP_FILE = "sweep.json"  # marks a sweep folder (reports.sweep_render looks for it)
FORMAT_VERSION = 1
MEASURES = ("test_accuracy", "test_loss", "train_seconds", "samples_per_second")
CELL_COLUMNS = [
    "kind", "cell", "model", "runs", "complete", "accuracy_mean", "accuracy_sd",
    "accuracy_ci_low", "accuracy_ci_high", "loss_mean", "samples_per_second_median",
    "t_statistic", "p_value", "p_holm", "speed_ratio_median",
]  # fmt: skip
P_VALUE, P_HOLM = CELL_COLUMNS.index("p_value"), CELL_COLUMNS.index("p_holm")


def run_states(sweep: Sweep, runs_dir: Path, errors: dict[str, str]) -> list[dict[str, Any]]:
    """Each run's status from its folder: complete, diverged, interrupted, failed (the
    task's error), unfinished (a folder without summary.json) or not started."""
    states = []
    for task in sweep.runs:
        folder = runs_dir / task.folder
        status = run_status(folder) if folder.is_dir() else None
        if status is None:
            status = "failed" if task.folder in errors else (
                "unfinished" if folder.is_dir() else "not started")  # fmt: skip
        error = errors.get(task.folder, "")
        if status == "diverged" and not error:
            error = (peek_summary(folder) or {}).get("error", "")
        states.append({"cell": task.cell, "seed": task.seed, "folder": task.folder,
                       "status": status, "error": error})  # fmt: skip
    return states


def write_all(sweep: Sweep, out: Path, states: list[dict[str, Any]], info: dict[str, Any]) -> None:
    """sweep.json (the plan, each run's status, `info`), sweep.csv and cells.csv."""
    document = {
        "format": "mnist-compare sweep", "format_version": FORMAT_VERSION, **info,
        "updated_at": now(), **sweep.to_dict(), "runs": states,
    }  # fmt: skip
    runfolder.write_json(out / SWEEP_FILE, document)
    rows = sweep_rows(sweep, out / "runs", states)
    header = ["cell", "seed", "run", "status", *sweep.keys, "model", *MEASURES]
    runfolder.write_csv(out / "sweep.csv", header, rows)
    params = {cell.name: cell.params for cell in sweep.cells}
    cells = [
        [row[0], row[1], *(_param_text(params[row[1]].get(k, "")) for k in sweep.keys), *row[2:]]
        for row in cell_rows(sweep, rows)
    ]
    runfolder.write_csv(out / "cells.csv", [*CELL_COLUMNS[:2], *sweep.keys, *CELL_COLUMNS[2:]],
                        cells)  # fmt: skip


def sweep_rows(sweep: Sweep, runs_dir: Path, states: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per run x model; a run without results has empty measures."""
    params = {cell.name: cell.params for cell in sweep.cells}
    rows = []
    for task, state in zip(sweep.runs, states, strict=True):
        summary = peek_summary(runs_dir / task.folder) if state["status"] == "complete" else None
        models = (summary or {}).get("models") or {m: {} for m in task.config.models}
        for model, result in models.items():
            values = [_param_text(params[task.cell].get(key, "")) for key in sweep.keys]
            measures = [result.get(measure, "") for measure in MEASURES]
            rows.append([task.cell, task.seed, f"runs/{task.folder}", state["status"],
                         *values, model, *measures])  # fmt: skip
    return rows


def _param_text(value: Any) -> Any:
    return ",".join(str(v) for v in value) if isinstance(value, list) else value


def cell_rows(sweep: Sweep, rows: list[list[Any]]) -> list[list[Any]]:
    """cells.csv: model rows then pair rows, per cell; Holm over the cells, per pair."""
    offset = 4 + len(sweep.keys)  # model, then the measures
    found: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    runs: dict[str, set[int]] = {}
    for row in rows:
        cell, seed, status = row[0], row[1], row[3]
        runs.setdefault(cell, set()).add(seed)
        if status == "complete":
            measures = dict(zip(MEASURES, row[offset + 1 :], strict=True))
            found.setdefault(cell, {}).setdefault(row[offset], {})[seed] = measures
    out: list[list[Any]] = []
    pair_rows: list[list[Any]] = []
    for cell in sweep.cells:
        per_model = found.get(cell.name, {})
        for model, by_seed in per_model.items():
            out.append(_model_row(cell.name, model, len(runs[cell.name]), by_seed))
        for a, b in metrics.model_pairs(list(per_model)):
            pair_rows.append(_pair_row(cell.name, a, b, len(runs[cell.name]), per_model))
    for pair in {row[2] for row in pair_rows}:
        family = [row for row in pair_rows if row[2] == pair]
        p_values = [r[P_VALUE] for r in family]
        for row, p_holm in zip(family, metrics.holm_adjust(p_values), strict=True):
            row[P_HOLM] = p_holm
    return _none_to_empty(out + pair_rows)


def _model_row(cell: str, model: str, runs: int, by_seed: dict[int, dict[str, float]]) -> list:
    accuracy = [m["test_accuracy"] for m in by_seed.values()]
    stats = metrics.mean_std(accuracy)
    low, high = metrics.confidence_interval(accuracy) or (None, None)
    loss = metrics.mean_std([m["test_loss"] for m in by_seed.values()])["mean"]
    speed = statistics.median(m["samples_per_second"] for m in by_seed.values())
    sd = stats["std"] if len(accuracy) > 1 else None
    return ["model", cell, model, runs, len(accuracy), stats["mean"], sd, low, high, loss, speed,
            None, None, None, None]  # fmt: skip


def _pair_row(cell: str, a: str, b: str, runs: int, per_model: dict[str, dict]) -> list:
    seeds = sorted(set(per_model[a]) & set(per_model[b]))
    acc_a = [per_model[a][s]["test_accuracy"] for s in seeds]
    acc_b = [per_model[b][s]["test_accuracy"] for s in seeds]
    paired = metrics.paired_comparison(acc_a, acc_b)
    differences = [x - y for x, y in zip(acc_a, acc_b, strict=True)]
    low, high = metrics.confidence_interval(differences) or (None, None)
    ratios = [per_model[a][s]["samples_per_second"] / per_model[b][s]["samples_per_second"]
              for s in seeds if per_model[b][s]["samples_per_second"]]  # fmt: skip
    sd = paired["std_difference"] if len(seeds) > 1 else None
    return ["pair", cell, f"{a}-{b}", runs, len(seeds), paired["mean_difference"], sd, low, high,
            None, None, paired["t_statistic"], paired["p_value"], None,
            statistics.median(ratios) if ratios else None]  # fmt: skip


def _none_to_empty(rows: list[list[Any]]) -> list[list[Any]]:
    return [["" if value is None else value for value in row] for row in rows]
