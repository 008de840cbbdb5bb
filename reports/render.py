"""`render_report(run_dir)`: read a run folder, write report.md, report.html and
figures/*.png into it, each file atomically (temp file in the same folder, then
os.replace), so a reader never sees a half-written report, and a failed or
interrupted rendering leaves the previous report whole (docs/run.md, "What is never
lost")."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import uuid
from collections.abc import Iterator
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


RENDERING_MARK = "mnist-compare report rendering"


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
    title = f"MNIST: {names} — {run.run_dir.resolve().name}"
    doc = Document(title, unreadable=list(run.unreadable))
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

    Nothing on disk changes until the whole report is built in memory. New figures are
    then written into figures/ beside the old ones (each atomically), report.md and
    report.html are replaced together (signals held between the two renames, both
    carrying one rendering id), and only then are the old report's figures that this
    rendering no longer has removed. Raises `reports.ReportError` (exit code 2) when
    `run_dir` is not a readable run folder.
    """
    run_dir = Path(run_dir)
    if is_sweep_folder(run_dir):  # a folder made by `mnist-compare sweep`
        return render_sweep_report(run_dir, atomic_write_bytes)
    doc = build_document(run_dir)
    mark = f"<!-- {RENDERING_MARK} {uuid.uuid4().hex} -->\n"
    markdown = (render_markdown(doc) + mark).encode("utf-8")
    page = (render_html(doc) + mark).encode("utf-8")
    figure_dir = run_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    written: dict[str, Path] = {}
    for figure in doc.figures:
        path = figure_dir / f"{figure.name}.png"
        atomic_write_bytes(path, figure.png)
        written[figure.name] = path
    written["markdown"], written["html"] = run_dir / "report.md", run_dir / "report.html"
    with signals_held(), atomic_path(written["markdown"]) as md, atomic_path(written["html"]) as h:
        md.write_bytes(markdown)
        h.write_bytes(page)
    damaged = damaged_figures(doc.unreadable)
    for stale in figure_dir.glob("*.png"):  # the old report's, now replaced
        known = stale.stem in KNOWN_FIGURES or stale.stem.startswith("mistakes_")
        if known and stale.stem not in written and not stale.stem.startswith(damaged):
            stale.unlink()
    return written


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


def rendering_id(text: str) -> str | None:
    """The id a rendering stamps on report.md and report.html (the same in both)."""
    found = re.search(rf"<!-- {RENDERING_MARK} ([0-9a-f]+) -->", text)
    return found.group(1) if found else None


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (then act as usual), so report.md
    and report.html are replaced together or not at all."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
