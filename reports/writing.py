"""Writing a report so that a good one is never replaced by a worse one: the one mechanism
behind the run report (`reports.render`) and the sweep report (`reports.sweep_render`).

- The whole report is built in memory first (`add_sections`: a section that cannot be
  drawn from a damaged file becomes a warning in its place); nothing on disk changes if
  building fails.
- `write_report` then writes the new figures into figures/ beside the old ones (each
  atomically), replaces report.md and report.html together (signals held between the
  two renames, both stamped with one rendering id), and only then removes the old
  report's figures this rendering no longer has, except those drawn from a damaged
  file: the previous rendering's copy is the only one left.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from reports.document import Document, Paragraph
from reports.html import render_html
from reports.markdown import render_markdown
from scratch.serialization import atomic_path

RENDERING_MARK = "mnist-compare report rendering"
# What a hand-edited or damaged file (a renamed CSV column, a string where a number
# belongs in summary.json) raises while a section reads it.
DAMAGED_FILE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)
REBUILD = "Re-run to rebuild them."


def atomic_write_bytes(path: Path, content: bytes) -> None:
    """Write `content` to a temp file beside `path`, then rename it into place."""
    with atomic_path(path) as temp:
        temp.write_bytes(content)


def add_sections(
    doc: Document, sections: Iterable[Callable[[Any, Document], None]], data: Any,
    rebuild: str = REBUILD,
) -> list[str]:  # fmt: skip
    """Call each `section(data, doc)`; one that raises on a damaged file adds a warning in
    its place (`rebuild` says how to make the files again). Returns the failed names."""
    failed = []
    for section in sections:
        try:
            section(data, doc)
        except DAMAGED_FILE_ERRORS as error:
            name = section.__name__.strip("_").replace("_", " ")
            failed.append(name)
            doc.add(
                Paragraph(
                    f"The {name} section could not be drawn from this folder's files "
                    f"({type(error).__name__}: {error}); were they edited? {rebuild}",
                    kind="warning",
                )
            )
    return failed


def write_report(
    folder: Path, doc: Document, *, ours: Callable[[str], bool], kept: tuple[str, ...] = ()
) -> dict[str, Path]:
    """Write `doc` into `folder` (report.md, report.html, figures/*.png); returns {"markdown",
    "html", "<figure name>": path, ...}. `ours(name)`: a figure name this kind of report
    draws (an old one no longer drawn is removed, last); an old figure whose name starts
    with one in `kept` stays (drawn from a damaged file)."""
    mark = f"<!-- {RENDERING_MARK} {uuid.uuid4().hex} -->\n"
    markdown = (render_markdown(doc) + mark).encode("utf-8")
    page = (render_html(doc) + mark).encode("utf-8")
    figure_dir = folder / "figures"
    figure_dir.mkdir(exist_ok=True)
    written: dict[str, Path] = {}
    for figure in doc.figures:
        path = figure_dir / f"{figure.name}.png"
        atomic_write_bytes(path, figure.png)
        written[figure.name] = path
    written["markdown"], written["html"] = folder / "report.md", folder / "report.html"
    with signals_held(), atomic_path(written["markdown"]) as md, atomic_path(written["html"]) as h:
        md.write_bytes(markdown)
        h.write_bytes(page)
    for stale in figure_dir.glob("*.png"):  # the old report's, now replaced
        if ours(stale.stem) and stale.stem not in written and not stale.stem.startswith(kept):
            stale.unlink()
    return written


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
