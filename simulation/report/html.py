"""Self-contained HTML: inline SVG and base64 PNG, one stylesheet in the page, no external URLs."""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

STYLE = """
:root { --ink: #222; --muted: #666; --line: #ddd; --accent: #1f5f99; --warn: #b5541e; --ok: #2a7d46; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 60px; background: #fff; min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
p.meta { color: var(--muted); margin: 0 0 18px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { background: #f0f3f7; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
td.unit { text-align: left; color: var(--muted); }
th.unit { text-align: left; }
td.ci { color: var(--muted); }
.callout { border-left: 5px solid var(--accent); background: #f2f6fb; padding: 12px 16px; margin: 10px 0; }
.callout.warn { border-color: var(--warn); background: #fdf4ee; }
.callout.ok { border-color: var(--ok); background: #f0f8f2; }
.callout p { margin: 4px 0; }
figure { margin: 14px 0 26px; }
figure svg, figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 4px; max-width: 900px; }
.grid { display: flex; flex-wrap: wrap; gap: 0 40px; }
.scroll { overflow-x: auto; max-width: 100%; }
details summary { cursor: pointer; color: var(--accent); }
code { background: #f0f3f7; padding: 1px 4px; border-radius: 3px; }
"""

_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", re.DOTALL)
_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_SIZE = re.compile(r'<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')


def inline_svg(path: Path, label: str) -> str:
    """An SVG file as an element for an HTML5 page: no prolog, no namespace URLs (the HTML parser puts
    <svg> in its namespace by itself), scaled to the page width."""
    text = _PROLOG.sub("", path.read_text(encoding="utf-8"))
    text = _NAMESPACES.sub("", text)
    text = _SIZE.sub(r"<svg\1", text, count=1)
    return text.replace("<svg", f'<svg role="img" aria-label="{escape(label)}"', 1)


def inline_png(path: Path, label: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(label)}" src="data:image/png;base64,{data}">'


def table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    """A table of already-escaped cells; `classes` gives each column a CSS class."""
    classes = classes or [""] * len(header)
    head = "".join(
        f'<th class="{c}">{h}</th>' if c else f"<th>{h}</th>" for c, h in zip(classes, header, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{c}">{cell}</td>' if c else f"<td>{cell}</td>"
            for c, cell in zip(classes, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
