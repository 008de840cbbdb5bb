"""Render a `Document` as GitHub-flavoured Markdown (report.md).

Tables are written by hand (pandas' `to_markdown` needs `tabulate`, which is not a
dependency); figures link to the PNG files in `figures/`.
"""

from __future__ import annotations

from reports.document import Code, Document, Figure, Heading, Paragraph, SideBySide, Table

PREFIX = {"warning": "> ⚠️ ", "verdict": "> ", "note": "> "}


def _cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(block: Table) -> str:
    header = "| " + " | ".join(_cell(c) for c in block.columns) + " |"
    rule = (
        "|"
        + "|".join(
            "---:" if i >= block.align_right_from else ":---" for i in range(len(block.columns))
        )
        + "|"
    )
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in block.rows]
    caption = [f"*{block.caption}*", ""] if block.caption else []
    return "\n".join([*caption, header, rule, *body])


def code(block: Code) -> str:
    caption = f"*{block.caption}*\n\n" if block.caption else ""
    return f"{caption}```{block.language}\n{block.text}\n```"


def render_markdown(doc: Document) -> str:
    """The document as Markdown; each figure is linked as figures/<name>.png, where the
    renderers write it."""
    parts: list[str] = [f"# {doc.title}"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            parts.append(f"## {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(PREFIX.get(block.kind, "") + block.text)
        elif isinstance(block, Table):
            parts.append(table(block))
        elif isinstance(block, Figure):
            parts.append(f"![{block.caption}](figures/{block.name}.png)\n\n*{block.caption}*")
        elif isinstance(block, Code):
            parts.append(code(block))
        elif isinstance(block, SideBySide):
            parts.append(f"### {block.title}\n\n{block.explanation}")
            parts.extend([code(block.left), code(block.right)])
    return "\n\n".join(parts) + "\n"
