"""Show a Localization: a ranked table and a per-line heat map in the terminal, or an HTML page."""
from __future__ import annotations

import html

from .localization.ranking import Localization
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
        t.add_row(str(i), where, s.kind, f"{s.score:.2f}", "; ".join(s.why) or s.reason)
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


def page(src: SourceFile, loc: Localization, report=None) -> str:
    """The source coloured by suspicion, beside the ranked spans in words and the failing tests' messages,
    with a legend for the colours."""
    scores = line_scores(loc)
    e = html.escape
    top = {ln for s in loc.statements[:3] for ln in range(s.start_line, s.end_line + 1)}
    rows = "".join(
        f'<tr{" class=top" if n in top else ""}><td class="n">{n}</td><td class="s">{scores.get(n, 0):.2f}</td>'
        f'<td style="background:{_colour(scores.get(n, 0))}"><pre>{e(line)}</pre></td></tr>'
        for n, line in enumerate(src.text.splitlines(), 1))
    spans = "".join((f"<li><b>lines {s.start_line}-{s.end_line}" if s.end_line != s.start_line else f"<li><b>line {s.start_line}")
                    + f"</b> {e(s.kind + (' ' + s.name if s.kind == 'function' and s.name else ''))}, "
                    f"score {s.score:.2f}<ul>" + "".join(f"<li>{e(w)}</li>" for w in (s.why or [s.reason])) + "</ul></li>"
                    for s in loc.spans[:10])
    failing = ""
    if report is not None:
        items = "".join(f"<li><code>{e(n)}</code><pre class=msg>{e(_first_lines(report.tests[n].message))}</pre></li>"
                        for n in report.failing[:10])
        more = f"<p>and {len(report.failing) - 10} more</p>" if len(report.failing) > 10 else ""
        failing = f"<h2>Failing tests ({len(report.failing)})</h2><ol>{items}</ol>{more}"
    legend = "".join(f'<span style="background:{_colour(x / 4)}">{x / 4:.2f}</span>' for x in range(5))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(src.rel)}: where is the bug?</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse}}pre{{margin:0}}
td{{padding:0 6px;vertical-align:top}}.n,.s{{color:#888;text-align:right;font-family:monospace}}
.cols{{display:flex;gap:2em;align-items:flex-start}}.side{{max-width:34em}}.msg{{white-space:pre-wrap;color:#a00;font-size:90%}}
tr.top .n{{color:#000;font-weight:bold}}.legend span{{padding:2px 8px;font-family:monospace}}</style></head>
<body><h1>{e(src.rel)}: where is the bug?</h1>
<p class=legend>Suspicion, relative to the most suspect line: {legend} (bold line numbers: the top three spans)</p>
<div class=cols><div><h2>Source</h2><table>{rows}</table></div>
<div class=side><h2>Ranked spans, and why</h2><ol>{spans}</ol>{failing}</div></div></body></html>"""


def _first_lines(message: str, n: int = 8) -> str:
    lines = [ln for ln in message.splitlines() if ln.strip()]
    return "\n".join(lines[:n]) + ("\n..." if len(lines) > n else "")
