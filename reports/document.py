"""The report as data: a list of blocks that both the Markdown and HTML writers render.

Building the content once and rendering it twice keeps report.md and report.html
saying exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    """A section heading (level 2: the document's title is the one level-1 heading)."""

    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Paragraph:
    """Plain text; `**bold**` and `` `code` `` are honoured by both writers."""

    text: str
    kind: str = "normal"  # normal | verdict | warning | note


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    align_right_from: int = 1  # numeric columns start here


@dataclass(frozen=True)
class Figure:
    """A rendered PNG; written to RUN/figures/<name>.png and embedded in the HTML."""

    name: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Code:
    text: str
    language: str = "python"
    caption: str = ""


@dataclass(frozen=True)
class SideBySide:
    """The teaching pairs: a title, an explanation, scratch code beside Keras code."""

    title: str
    explanation: str
    left: Code
    right: Code


Block = Heading | Paragraph | Table | Figure | Code | SideBySide


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # damaged files it was built without

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    @property
    def figures(self) -> list[Figure]:
        return [block for block in self.blocks if isinstance(block, Figure)]


def fmt(value: object, digits: int = 4) -> str:
    """A number for a table cell; missing values as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        return f"{value:.{digits}f}"
    return str(value)


def pct(value: float | None) -> str:
    """A share as a percentage with two decimals; missing and NaN values as an em dash
    (never "nan%")."""
    if value is None or value != value:
        return "—"
    return f"{100.0 * value:.2f}%"
