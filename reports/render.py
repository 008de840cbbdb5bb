"""`render_report(run_dir)`: read a run folder (or a sweep folder), write report.md,
report.html and figures/*.png into it, each file atomically (temp file in the same
folder, then os.replace), so a reader never sees a half-written report, and a failed or
interrupted rendering leaves the previous report whole (docs/run.md, "What is never
lost"; the mechanism, shared with the sweep report, is `reports.writing`)."""

from __future__ import annotations

from pathlib import Path

from reports import context, headline, sections
from reports.document import Document
from reports.loader import load_run
from reports.sweep_render import is_sweep_folder, render_sweep_report
from reports.writing import add_sections, write_report

KNOWN_FIGURES = frozenset({
    "learning_curves", "confusion_matrices", "confusion_difference", "per_class_f1", "timing",
    "lockstep_drift", "seed_spread", "disagreements", "mistakes_scratch", "mistakes_keras",
    "first_layer_weights", "first_layer_filters", "feature_maps",
})  # fmt: skip


MODEL_TITLES = {"scratch": "scratch NumPy network", "keras": "Keras"}  # else the label
SECTIONS = (
    headline.headline, sections.training, sections.per_class, sections.confusion,
    sections.mistakes, sections.timing, sections.lockstep, sections.seeds, sections.weights,
    context.keras_did, context.matching, context.provenance,
)  # fmt: skip


def build_document(run_dir: Path) -> Document:
    """The whole report as blocks: warnings, headline, details, then context.

    A section that cannot be drawn from the folder's files becomes a warning in its
    place; the rest of the report is still written.
    """
    run = load_run(run_dir)
    names = " vs ".join(MODEL_TITLES.get(m, run.labels[m]) for m in run.models) or "no model"
    title = f"MNIST: {names} — {run.run_dir.resolve().name}"
    doc = Document(title, unreadable=list(run.unreadable))
    headline.warnings(run, doc)
    add_sections(doc, SECTIONS, run)
    return doc


def render_report(run_dir: str | Path) -> dict[str, Path]:
    """Render the run folder; returns {"markdown", "html", "<figure name>": path, ...}.

    Nothing on disk changes until the whole report is built in memory. New figures are
    then written into figures/ beside the old ones (each atomically), report.md and
    report.html are replaced together (signals held between the two renames, both
    carrying one rendering id), and only then are the old report's figures that this
    rendering no longer has removed (`reports.writing.write_report`). Raises
    `reports.ReportError` (exit code 2) when `run_dir` is not a readable run folder.
    """
    run_dir = Path(run_dir)
    if is_sweep_folder(run_dir):  # a folder made by `mnist-compare sweep`
        return render_sweep_report(run_dir)
    doc = build_document(run_dir)
    return write_report(run_dir, doc, ours=is_run_figure, kept=damaged_figures(doc.unreadable))


def is_run_figure(name: str) -> bool:
    """A figure the run report draws (an old one it no longer draws is removed)."""
    return name in KNOWN_FIGURES or name.startswith("mistakes_")


# Figure name (or its start) -> the files it is drawn from: names, or the start of names
# ("confusion_"), or "weights" for a model's .npz.
FIGURE_SOURCES = {
    "learning_curves": "metrics.csv", "timing": "metrics.csv", "per_class_f1": "confusion_",
    "confusion_": "confusion_", "mistakes_": "predictions.csv examples.npz",
    "disagreements": "predictions.csv examples.npz", "lockstep_drift": "lockstep.csv",
    "seed_spread": "seeds.csv", "first_layer_": "weights", "feature_maps": "weights",
}  # fmt: skip


def damaged_figures(unreadable: list[str]) -> tuple[str, ...]:
    """Names (or starts) of the figures drawn from a file that exists but could not be
    read: the previous rendering's copy is kept, as it is the only one left."""

    def drawn_from(name: str, source: str) -> bool:
        if source == "weights":
            return name.endswith(".npz") and name != "examples.npz"
        return name.startswith(source)

    return tuple(
        figure
        for figure, sources in FIGURE_SOURCES.items()
        if any(drawn_from(name, source) for name in unreadable for source in sources.split())
    )
