"""`render_report(run_dir)`: read a run folder, write report.md, report.html and
figures/*.png into it, each file atomically (temp file in the same folder, then
os.replace), so a reader never sees a half-written report."""

from __future__ import annotations

from pathlib import Path

from reports import context, headline, sections
from reports.document import Document, Paragraph
from reports.html import render_html
from reports.loader import load_run
from reports.markdown import render_markdown
from reports.sweep_render import is_sweep_folder, render_sweep_report
from scratch.serialization import atomic_path

KNOWN_FIGURES = frozenset({
    "learning_curves", "confusion_matrices", "confusion_difference", "per_class_f1", "timing",
    "lockstep_drift", "seed_spread", "disagreements", "mistakes_scratch", "mistakes_keras",
    "first_layer_weights", "first_layer_filters", "feature_maps",
})  # fmt: skip


def atomic_write_bytes(path: Path, content: bytes) -> None:
    """Write `content` to a temp file beside `path`, then rename it into place."""
    with atomic_path(path) as temp:
        temp.write_bytes(content)


MODEL_TITLES = {"scratch": "scratch NumPy network", "keras": "Keras"}  # else the label
SECTIONS = (
    headline.headline, sections.training, sections.per_class, sections.confusion,
    sections.mistakes, sections.timing, sections.lockstep, sections.seeds, sections.weights,
    context.keras_did, context.matching, context.provenance,
)  # fmt: skip
# What a hand-edited or damaged file (a renamed CSV column, a string where a number
# belongs in summary.json) raises while a section reads it.
DAMAGED_FILE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def build_document(run_dir: Path) -> Document:
    """The whole report as blocks: warnings, headline, details, then context.

    A section that cannot be drawn from the folder's files becomes a warning in its
    place; the rest of the report is still written.
    """
    run = load_run(run_dir)
    names = " vs ".join(MODEL_TITLES.get(m, run.labels[m]) for m in run.models) or "no model"
    doc = Document(f"MNIST: {names} — {run.run_dir.resolve().name}")
    headline.warnings(run, doc)
    for section in SECTIONS:
        try:
            section(run, doc)
        except DAMAGED_FILE_ERRORS as error:
            name = section.__name__.replace("_", " ")
            doc.add(
                Paragraph(
                    f"The {name} section could not be drawn from this folder's files "
                    f"({type(error).__name__}: {error}); were they edited? Re-run to rebuild them.",
                    kind="warning",
                )
            )
    return doc


def render_report(run_dir: str | Path) -> dict[str, Path]:
    """Render the run folder; returns {"markdown", "html", "<figure name>": path, ...}.

    Raises `reports.ReportError` (exit code 2) when `run_dir` is not a readable run folder.
    """
    run_dir = Path(run_dir)
    if is_sweep_folder(run_dir):  # a folder made by `mnist-compare sweep`
        return render_sweep_report(run_dir, atomic_write_bytes)
    doc = build_document(run_dir)
    figure_dir = run_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    written: dict[str, Path] = {}
    for figure in doc.figures:
        path = figure_dir / f"{figure.name}.png"
        atomic_write_bytes(path, figure.png)
        written[figure.name] = path
    for stale in figure_dir.glob("*.png"):  # a figure this run no longer has (re-render)
        known = stale.stem in KNOWN_FIGURES or stale.stem.startswith("mistakes_")
        if known and stale.stem not in written:
            stale.unlink()
    written["markdown"] = run_dir / "report.md"
    atomic_write_bytes(written["markdown"], render_markdown(doc).encode("utf-8"))
    written["html"] = run_dir / "report.html"
    atomic_write_bytes(written["html"], render_html(doc).encode("utf-8"))
    return written
