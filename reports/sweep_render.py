"""The report of a sweep folder (`mnist-compare report SWEEP_DIR`): report.md, report.html
and figures/*.png, from sweep.json, sweep.csv and cells.csv alone (the statistics were
computed by the sweep, compare/sweepresults.py; nothing is recomputed here).

Written as the run report is (`reports.writing`): built in memory first, so an unreadable
sweep.json leaves the old report whole (`ReportError`); a damaged or cut sweep.csv or
cells.csv is named in place, and the figures the old report drew from cells.csv stay."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports import sweep_figures
from reports.document import Document, Heading, Paragraph, Table, fmt, pct
from reports.loader import ReportError
from reports.stats import SIGNIFICANCE, format_p
from reports.writing import add_sections, write_report

SWEEP_FILE = "sweep.json"


def resume(folder: Path) -> str:
    """The command that finishes the sweep in `folder` and rebuilds its result files."""
    return f"mnist-compare sweep {folder / 'sweep.toml'} --out {folder} --resume"


def rebuild(folder: Path) -> str:
    return f"Rebuild them from the run folders with `{resume(folder)}`."


# The columns the report needs, as compare/sweepresults.py writes them; the first
# `KEY_COLUMNS` are never empty in a whole file.
CELLS_COLUMNS = (
    "kind", "cell", "model", "runs", "complete", "accuracy_mean", "accuracy_sd",
    "accuracy_ci_low", "accuracy_ci_high", "p_value", "p_holm", "speed_ratio_median",
)  # fmt: skip
RUNS_COLUMNS = ("cell", "seed", "run", "status", "model", "test_accuracy")
KEY_COLUMNS = 4
FIGURES = ("accuracy_by_", "speed_ratio")  # the sweep report's figures, all from cells.csv


def is_sweep_folder(folder: Path) -> bool:
    return (Path(folder) / SWEEP_FILE).is_file()


def is_sweep_figure(name: str) -> bool:
    return name.startswith(FIGURES)


@dataclass
class SweepData:
    folder: Path
    info: dict[str, Any]
    runs: pd.DataFrame | None = None  # sweep.csv
    cells: pd.DataFrame | None = None  # cells.csv
    unreadable: dict[str, str] = field(default_factory=dict)  # damaged file -> why

    @property
    def keys(self) -> list[str]:
        return list(self.info.get("keys") or [])


def load_sweep(folder: Path) -> SweepData:
    """sweep.json (required: `ReportError` if it cannot be read), sweep.csv and cells.csv
    (a damaged one is noted in `unreadable`)."""
    try:
        info = json.loads((folder / SWEEP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ReportError(
            f"{folder / SWEEP_FILE} cannot be read ({error}); rebuild it from "
            f"the run folders: {resume(folder)}"
        ) from None
    if not isinstance(info, dict) or not isinstance(info.get("runs"), list):
        raise ReportError(f"{folder / SWEEP_FILE} is not a sweep's file (no list of runs); "
                          f"rebuild it: {resume(folder)}")  # fmt: skip
    sweep = SweepData(folder, info)
    for name, columns, attribute in (("sweep.csv", RUNS_COLUMNS, "runs"),
                                     ("cells.csv", CELLS_COLUMNS, "cells")):  # fmt: skip
        try:
            setattr(sweep, attribute, read_results(folder / name, columns))
        except (OSError, ValueError) as error:  # pandas' parser errors are ValueErrors
            sweep.unreadable[name] = f"{type(error).__name__}: {error}"
    return sweep


def read_results(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A CSV the sweep wrote; ValueError when it was cut short (its last line unended, a
    column or a row's key missing) or edited out of shape."""
    content = path.read_bytes()
    if not content.endswith(b"\n"):
        raise ValueError("its last line is not ended (cut short?)")
    frame = pd.read_csv(io.BytesIO(content), dtype={"cell": str})
    missing = [column for column in columns if column not in frame]
    if missing:
        raise ValueError(f"no column {', '.join(missing)} (cut short or edited?)")
    if frame[list(columns[:KEY_COLUMNS])].isna().any(axis=None):
        raise ValueError(f"a row without {' or '.join(columns[:KEY_COLUMNS])} (cut short?)")
    return frame


SECTIONS_FROM_CELLS = {"accuracy", "differences", "speed"}


def build_document(sweep: SweepData) -> tuple[Document, bool]:
    """The report, and whether a section that reads cells.csv could not be drawn."""
    doc = Document(f"MNIST sweep — {sweep.folder.resolve().name}",
                   unreadable=list(sweep.unreadable))  # fmt: skip
    again = rebuild(sweep.folder)
    for name, why in sweep.unreadable.items():
        doc.add(Paragraph(f"**Unreadable file** (its sections say so): {name}: {why}. Was it "
                          f"edited or cut short? {again}", kind="warning"))  # fmt: skip
    sections = (_overview, _accuracy, _differences, _speed, _runs)
    failed = add_sections(doc, sections, sweep, again)
    return doc, bool(SECTIONS_FROM_CELLS & set(failed))


def _from_cells(sweep: SweepData, doc: Document, kind: str) -> pd.DataFrame | None:
    """cells.csv's rows of `kind`, or None and a warning in place when it is damaged."""
    if sweep.cells is None:
        why, again = sweep.unreadable.get("cells.csv", "missing"), rebuild(sweep.folder)
        doc.add(Paragraph(f"**This section is not drawn**: cells.csv ({why}) could not be read. "
                          f"{again} Figures the previous report drew from it stay in figures/.",
                          kind="warning"))  # fmt: skip
        return None
    return sweep.cells[sweep.cells["kind"] == kind]


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
                          f"only. Finish the sweep with `{resume(sweep.folder)}`.",
                          kind="warning"))  # fmt: skip
    swept = ", ".join(f"`{k}`" for k in sweep.keys) or "nothing (one cell)"
    doc.add(Paragraph(f"Swept keys: {swept}. Each run is an ordinary run folder under `runs/` "
                      "with its own report (links at the end)."))  # fmt: skip


def _accuracy(sweep: SweepData, doc: Document) -> None:
    doc.add(Heading("Accuracy per cell", anchor="accuracy"))
    models = _from_cells(sweep, doc, "model")
    if models is None:
        return
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
    doc.add(Heading("Where the models differ", anchor="differences"))
    pairs = _from_cells(sweep, doc, "pair")
    if pairs is None:
        return
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
    if sweep.cells is None:  # named in place by the sections above
        return
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


def render_sweep_report(folder: Path) -> dict[str, Path]:
    """Render the sweep folder (`reports.writing.write_report`); returns the paths."""
    folder = Path(folder)
    doc, cells_damaged = build_document(load_sweep(folder))
    damaged = cells_damaged or "cells.csv" in doc.unreadable
    return write_report(folder, doc, ours=is_sweep_figure, kept=FIGURES if damaged else ())
