"""`render_report(run_dir)`: read a run folder, write report.md, report.html and
figures/*.png into it, each file atomically (temp file in the same folder, then
os.replace), so a reader never sees a half-written report."""

from __future__ import annotations

from pathlib import Path

from reports import context, headline, sections
from reports.document import Document
from reports.html import render_html
from reports.loader import load_run
from reports.markdown import render_markdown
from scratch.serialization import atomic_path

KNOWN_FIGURES = frozenset({
    "learning_curves", "confusion_matrices", "confusion_difference", "per_class_f1", "timing",
    "lockstep_drift", "seed_spread", "disagreements", "mistakes_scratch", "mistakes_keras",
    "first_layer_weights",
})  # fmt: skip


def atomic_write_bytes(path: Path, content: bytes) -> None:
    """Write `content` to a temp file beside `path`, then rename it into place."""
    with atomic_path(path) as temp:
        temp.write_bytes(content)


def build_document(run_dir: Path) -> Document:
    """The whole report as blocks: warnings, headline, details, then context."""
    run = load_run(run_dir)
    doc = Document(f"MNIST: scratch NumPy network vs Keras — {run.run_dir.resolve().name}")
    headline.warnings(run, doc)
    headline.headline(run, doc)
    sections.training(run, doc)
    sections.per_class(run, doc)
    sections.confusion(run, doc)
    sections.mistakes(run, doc)
    sections.timing(run, doc)
    sections.lockstep(run, doc)
    sections.seeds(run, doc)
    sections.weights(run, doc)
    context.keras_did(run, doc)
    context.matching(run, doc)
    context.provenance(run, doc)
    return doc


def render_report(run_dir: str | Path) -> dict[str, Path]:
    """Render the run folder; returns {"markdown", "html", "<figure name>": path, ...}.

    Raises `reports.ReportError` (exit code 2) when `run_dir` is not a readable run folder.
    """
    run_dir = Path(run_dir)
    doc = build_document(run_dir)
    figure_dir = run_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    written: dict[str, Path] = {}
    for figure in doc.figures:
        path = figure_dir / f"{figure.name}.png"
        atomic_write_bytes(path, figure.png)
        written[figure.name] = path
    for stale in figure_dir.glob("*.png"):  # a figure this run no longer has (re-render)
        if stale.stem in KNOWN_FIGURES and stale.stem not in written:
            stale.unlink()
    written["markdown"] = run_dir / "report.md"
    atomic_write_bytes(written["markdown"], render_markdown(doc).encode("utf-8"))
    written["html"] = run_dir / "report.html"
    atomic_write_bytes(written["html"], render_html(doc).encode("utf-8"))
    return written
