"""The report of a sweep folder (`mnist-compare report SWEEP_DIR`): report.md, report.html
and figures/*.png, from sweep.json, sweep.csv and cells.csv alone (the statistics were
computed by the sweep, compare/sweepresults.py; nothing is recomputed here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reports import sweep_figures
from reports.document import Document, Heading, Paragraph, Table, fmt, pct
from reports.html import render_html
from reports.loader import ReportError
from reports.markdown import render_markdown
from reports.stats import SIGNIFICANCE, format_p

SWEEP_FILE = "sweep.json"


def is_sweep_folder(folder: Path) -> bool:
    return (Path(folder) / SWEEP_FILE).is_file()


@dataclass
class SweepData:
    folder: Path
    info: dict[str, Any]
    runs: pd.DataFrame  # sweep.csv
    cells: pd.DataFrame  # cells.csv

    @property
    def keys(self) -> list[str]:
        return list(self.info.get("keys") or [])


def load_sweep(folder: Path) -> SweepData:
    try:
        info = json.loads((folder / SWEEP_FILE).read_text(encoding="utf-8"))
        runs = pd.read_csv(folder / "sweep.csv", dtype={"cell": str})
        cells = pd.read_csv(folder / "cells.csv", dtype={"cell": str})
    except (OSError, ValueError) as error:
        raise ReportError(f"{folder} is not a readable sweep folder: {error}") from None
    return SweepData(folder, info, runs, cells)


def build_document(sweep: SweepData) -> Document:
    doc = Document(f"MNIST sweep — {sweep.folder.resolve().name}")
    _overview(sweep, doc)
    _accuracy(sweep, doc)
    _differences(sweep, doc)
    _speed(sweep, doc)
    _runs(sweep, doc)
    return doc


def _overview(sweep: SweepData, doc: Document) -> None:
    info, states = sweep.info, pd.DataFrame(sweep.info.get("runs") or [])
    counts = states["status"].value_counts().to_dict() if not states.empty else {}
    where = info.get("scheduler") or f"this machine, {info.get('jobs')} job(s)"
    doc.add(Heading("Overview", anchor="overview"), Paragraph(
        f"{len(info.get('cells', []))} cells x {len(info.get('seeds', []))} seeds = "
        f"{len(states)} runs of {', '.join(info.get('models', []))}, on {where}; sweep status "
        f"**{info.get('status')}**; runs: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "."
    ))  # fmt: skip
    if info.get("status") != "complete" or set(counts) - {"complete"}:
        doc.add(Paragraph("Not every run is complete: the statistics use the complete runs "
                          "only. Finish the sweep with `mnist-compare sweep SWEEP_DIR/sweep.toml "
                          "--out SWEEP_DIR --resume`.", kind="warning"))  # fmt: skip
    swept = ", ".join(f"`{k}`" for k in sweep.keys) or "nothing (one cell)"
    doc.add(Paragraph(f"Swept keys: {swept}. Each run is an ordinary run folder under `runs/` "
                      "with its own report (links at the end)."))  # fmt: skip


def _accuracy(sweep: SweepData, doc: Document) -> None:
    models = sweep.cells[sweep.cells["kind"] == "model"]
    doc.add(Heading("Accuracy per cell", anchor="accuracy"))
    if models.empty:
        doc.add(Paragraph("No run completed: nothing to show.", kind="warning"))
        return
    for key in sweep.keys:
        doc.add(sweep_figures.accuracy_by_key(models, key, sweep.keys))
    rows = [[row.cell, row.model, f"{int(row.complete)}/{int(row.runs)}",
             pct(row.accuracy_mean), _sd(row.accuracy_sd), _interval(row)]
            for row in models.itertuples()]  # fmt: skip
    doc.add(Table(["cell", "model", "runs", "test accuracy", "sd (points)", "95% interval"],
                  rows, caption="Mean test accuracy over the seeds, with the sample sd and "
                  "Student's t interval.", align_right_from=2))  # fmt: skip


def _differences(sweep: SweepData, doc: Document) -> None:
    pairs = sweep.cells[sweep.cells["kind"] == "pair"]
    doc.add(Heading("Where the models differ", anchor="differences"))
    if pairs.empty:
        doc.add(Paragraph("One model per run: no paired comparison."))
        return
    doc.add(Paragraph(
        "Per cell, the paired difference a − b of test accuracy over the seeds (the same "
        "seed, data and batches for both models), with a paired t test. Across the "
        f"{len(pairs)} cell(s), the p-values are corrected for multiple comparisons with "
        f"**Holm's step-down method** (family-wise error {SIGNIFICANCE:g}): a cell is listed "
        f"here when its Holm-adjusted p is below {SIGNIFICANCE:g}."
    ))  # fmt: skip
    significant = pairs[pd.to_numeric(pairs["p_holm"], errors="coerce") < SIGNIFICANCE]
    table = significant if not significant.empty else pairs
    rows = [[row.cell, row.model, int(row.complete), _points(row.accuracy_mean),
             _interval(row, points=True), _p(row.p_value), _p(row.p_holm)]
            for row in table.itertuples()]  # fmt: skip
    columns = ["cell", "a − b", "seeds", "mean difference (points)", "95% interval (points)",
               "p (paired t)", "p (Holm)"]  # fmt: skip
    if (pairs["accuracy_mean"] == 0).all() and (pairs["accuracy_sd"].fillna(0) == 0).all():
        same = (
            "In every complete run both models reached exactly the same test accuracy "
            "(lockstep twins on identical batches), so the paired test is undefined (—): "
            "there is no difference to test."
        )
        doc.add(Paragraph(same, kind="note"))
    if significant.empty:
        doc.add(Paragraph(f"No cell differs significantly after Holm's correction (all "
                          f"adjusted p ≥ {SIGNIFICANCE:g}).", kind="verdict"))  # fmt: skip
        doc.add(Table(columns, rows, caption="Every cell's paired difference.", align_right_from=2))
        return
    doc.add(Paragraph(f"{len(significant)} of {len(pairs)} cell(s) differ significantly after "
                      "Holm's correction.", kind="verdict"))  # fmt: skip
    doc.add(Table(columns, rows, caption="Cells that differ significantly (Holm).",
                  align_right_from=2))  # fmt: skip


def _speed(sweep: SweepData, doc: Document) -> None:
    pairs = sweep.cells[sweep.cells["kind"] == "pair"]
    figure = sweep_figures.speed_ratio(pairs) if not pairs.empty else None
    if figure is None:
        return
    doc.add(Heading("Speed ratio per cell", anchor="speed"), figure)
    rows = [[row.cell, row.model, fmt(row.speed_ratio_median, 2)] for row in pairs.itertuples()]
    doc.add(Table(["cell", "a / b", "median speed ratio"], rows, align_right_from=2))


def _runs(sweep: SweepData, doc: Document) -> None:
    doc.add(Heading("Runs", anchor="runs"))
    rows = []
    for state in sweep.info.get("runs") or []:
        folder = sweep.folder / "runs" / state["folder"]
        target = "report.html" if (folder / "report.html").is_file() else "summary.json"
        has_target = (folder / target).is_file()
        link = f"[{state['folder']}](runs/{state['folder']}/{target})" if has_target else (
            state["folder"])  # fmt: skip
        rows.append([link, str(state["seed"]), state["status"], state.get("error") or ""])
    doc.add(Table(["run (its own report)", "seed", "status", "error"], rows,
                  align_right_from=99))  # fmt: skip


def _sd(value: float) -> str:
    return "—" if pd.isna(value) else f"{100 * value:.2f}"


def _points(value: float) -> str:
    return "—" if pd.isna(value) else f"{100 * value:+.3f}"


def _interval(row: Any, points: bool = False) -> str:
    low, high = row.accuracy_ci_low, row.accuracy_ci_high
    if pd.isna(low) or pd.isna(high):
        return "—"
    if points:
        return f"{100 * low:+.3f} to {100 * high:+.3f}"
    return f"{pct(low)} to {pct(high)}"


def _p(value: Any) -> str:
    number = pd.to_numeric(value, errors="coerce")
    return "—" if pd.isna(number) else format_p(float(number))


def render_sweep_report(folder: Path, write: Any) -> dict[str, Path]:
    """Write the sweep's report with `write(path, bytes)` (atomic); returns the paths."""
    folder = Path(folder)
    doc = build_document(load_sweep(folder))
    figure_dir = folder / "figures"
    figure_dir.mkdir(exist_ok=True)
    written: dict[str, Path] = {}
    for figure in doc.figures:
        written[figure.name] = figure_dir / f"{figure.name}.png"
        write(written[figure.name], figure.png)
    written["markdown"] = folder / "report.md"
    write(written["markdown"], render_markdown(doc).encode("utf-8"))
    written["html"] = folder / "report.html"
    write(written["html"], render_html(doc).encode("utf-8"))
    return written
