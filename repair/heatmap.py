"""Show a Localization: a ranked table and a per-line heat map in the terminal, or an HTML page."""
from __future__ import annotations

import html

from .localize import Localization
from .source import SourceFile


def line_scores(loc: Localization) -> dict[int, float]:
    """Fused suspiciousness per line, from the statement spans (0..1, relative to the best)."""
    scores: dict[int, float] = {}
    for s in loc.statements:
        for ln in range(s.start_line, s.end_line + 1):
            scores[ln] = max(scores.get(ln, 0.0), s.score)
    top = max(scores.values(), default=1.0) or 1.0
    return {ln: v / top for ln, v in scores.items()}


def _colour(x: float) -> str:
    r, g = 255, int(255 - 175 * x)
    return f"#{r:02x}{g:02x}{int(255 - 215 * x):02x}"


def terminal(console, src: SourceFile, loc: Localization, context: int = 2) -> None:
    from rich.table import Table
    from rich.text import Text
    t = Table(title=f"suspicious spans in {src.rel}", show_lines=False)
    for col in ("#", "lines", "kind", "score", "evidence"):
        t.add_column(col)
    for i, s in enumerate(loc.spans[:10], 1):
        where = f"{s.start_line}" if s.start_line == s.end_line else f"{s.start_line}-{s.end_line}"
        t.add_row(str(i), where, s.kind, f"{s.score:.2f}", s.reason)
    console.print(t)
    scores = line_scores(loc)
    lines = src.text.splitlines()
    show = sorted({n for ln in scores for n in range(ln - context, ln + context + 1) if 1 <= n <= len(lines)})
    prev = 0
    for n in show:
        if prev and n != prev + 1:
            console.print("   ...")
        x = scores.get(n, 0.0)
        bar = "█" * round(x * 8)
        row = Text(f"{n:>5} {bar:<8} ")
        row.append(lines[n - 1], style=f"on {_colour(x)}" if x else "")
        console.print(row, soft_wrap=True)
        prev = n


def page(src: SourceFile, loc: Localization) -> str:
    scores = line_scores(loc)
    e = html.escape
    rows = "".join(
        f'<tr><td class="n">{n}</td><td class="s">{scores.get(n, 0):.2f}</td>'
        f'<td style="background:{_colour(scores.get(n, 0))}"><pre>{e(line)}</pre></td></tr>'
        for n, line in enumerate(src.text.splitlines(), 1))
    spans = "".join(f"<li><b>lines {s.start_line}-{s.end_line}</b> ({e(s.kind)}, score {s.score:.2f}): "
                    f"{e(s.reason)}</li>" for s in loc.spans[:10])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(src.rel)}: localization</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}pre{{margin:0}}
td{{padding:0 6px;vertical-align:top}}.n,.s{{color:#888;text-align:right;font-family:monospace}}</style></head>
<body><h1>{e(src.rel)}</h1><h2>Ranked spans</h2><ol>{spans}</ol><h2>Source</h2><table>{rows}</table></body></html>"""
