"""Render a `Document` as ONE self-contained HTML file (report.html).

Figures are embedded as base64 PNG data URIs and the CSS is inline, so the file
opens from disk with no network and no companion files. There are no external
URLs and no scripts.
"""

from __future__ import annotations

import base64
import html
import re

from reports.document import Code, Document, Figure, Heading, Paragraph, SideBySide, Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1b1f24; background: #f6f7f9; line-height: 1.5; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #e3e6ea; padding-bottom: 4px; margin-top: 2.2em; }
h3 { margin: 1.4em 0 0.3em; }
nav { font-size: 0.9em; margin: 8px 0 20px; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 0.92em; }
th, td { border: 1px solid #d5d9de; padding: 5px 10px; vertical-align: top; }
th { background: #eef1f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafbfc; }
caption { caption-side: top; text-align: left; font-style: italic; color: #555;
  padding-bottom: 4px; }
.headline table { font-size: 1.02em; }
p.verdict { font-size: 1.12em; background: #eef6ee; border-left: 5px solid #2e7d32;
  padding: 10px 14px; }
p.warning { font-size: 1.1em; background: #fdecea; border: 2px solid #c62828;
  padding: 10px 14px; color: #8e0000; }
p.note { background: #f1f4f8; padding: 8px 12px; }
figure { margin: 14px 0 26px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e6ea; }
figcaption { font-size: 0.9em; color: #444; margin-top: 4px; }
pre { background: #f4f5f7; border: 1px solid #e1e4e8; padding: 10px; overflow-x: auto;
  font-size: 0.82em; line-height: 1.35; margin: 4px 0; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.pair { display: grid; grid-template-columns: 3fr 2fr; gap: 14px; align-items: start; }
.pair .label { font-size: 0.85em; color: #555; font-weight: 600; }
.pair pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.step { border-top: 1px solid #e3e6ea; margin-top: 16px; }
"""


def inline(text: str) -> str:
    """Escape, then honour `**bold**`, `[text](relative link)` and `` `code` ``; inside
    code, ** is just **."""
    parts = re.split(r"(`[^`]+`)", html.escape(text))  # odd parts are code spans
    for i, part in enumerate(parts):
        if i % 2:
            parts[i] = f"<code>{part[1:-1]}</code>"
        else:
            part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
            parts[i] = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', part)
    return "".join(parts)


def _table(block: Table) -> str:
    head = "".join(f"<th>{inline(c)}</th>" for c in block.columns)
    body = []
    for row in block.rows:
        cells = "".join(
            f'<td class="num">{inline(str(v))}</td>'
            if i >= block.align_right_from
            else f"<td>{inline(str(v))}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    caption = f"<caption>{inline(block.caption)}</caption>" if block.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(block: Figure) -> str:
    data = base64.b64encode(block.png).decode("ascii")
    alt = html.escape(block.caption, quote=True)
    return (
        f'<figure id="fig-{block.name}"><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{inline(block.caption)}</figcaption></figure>"
    )


def _code(block: Code) -> str:
    label = f'<div class="label">{inline(block.caption)}</div>' if block.caption else ""
    return f"<div>{label}<pre><code>{html.escape(block.text)}</code></pre></div>"


def _block(block: object) -> str:
    if isinstance(block, Heading):
        anchor = f' id="{block.anchor}"' if block.anchor else ""
        return f"<h2{anchor}>{inline(block.text)}</h2>"
    if isinstance(block, Paragraph):
        return f'<p class="{block.kind}">{inline(block.text)}</p>'
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return _figure(block)
    if isinstance(block, Code):
        return _code(block)
    if isinstance(block, SideBySide):
        return (
            f'<div class="step"><h3>{inline(block.title)}</h3><p>{inline(block.explanation)}</p>'
            f'<div class="pair">{_code(block.left)}{_code(block.right)}</div></div>'
        )
    raise TypeError(f"unknown block {type(block).__name__}")


def render_html(doc: Document) -> str:
    nav = "".join(
        f'<a href="#{b.anchor}">{inline(b.text)}</a>'
        for b in doc.blocks
        if isinstance(b, Heading) and b.anchor
    )
    body = "\n".join(_block(b) for b in doc.blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><h1>{html.escape(doc.title)}</h1><nav>{nav}</nav>\n{body}\n"
        "</main></body></html>\n"
    )
