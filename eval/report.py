"""Metrics, charts and the Markdown/HTML report of one eval run directory (results.jsonl + provenance.json)."""
from __future__ import annotations

import html
import json
import statistics
from pathlib import Path


def load_rows(run_dir: Path) -> list[dict]:
    path = run_dir / "results.jsonl"
    if not path.is_file():
        raise ValueError(f"{run_dir}: no results.jsonl (not an eval run directory)")
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def _p90(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))] if xs else 0.0


def summarize(rows: list[dict]) -> dict[str, dict]:
    """Per config: counts, rates, time and token figures, localization hit@k."""
    out: dict[str, dict] = {}
    for cfg in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == cfg]
        n = len(rs)
        fixed = [r for r in rs if r.get("fixed")]
        judged = [r for r in rs if r.get("correct") is not None]
        secs = [r["seconds"] for r in rs]
        ranks = [r.get("loc_rank") for r in rs if r.get("localized")]  # the naive peer does not localize
        out[cfg] = {
            "tasks": n, "fixed": len(fixed), "fix_rate": len(fixed) / n if n else 0.0,
            "correct": sum(bool(r.get("correct")) for r in judged), "judged": len(judged),
            "correct_rate": sum(bool(r.get("correct")) for r in judged) / len(judged) if judged else None,
            "regressions": sum(r.get("regressions") or 0 for r in rs),
            "crashes": sum(r.get("status") in ("crash", "error") for r in rs),
            "timeouts": sum(r.get("status") == "timeout" for r in rs),
            "median_seconds": statistics.median(secs) if secs else 0.0, "p90_seconds": _p90(secs),
            "tokens_per_fix": (sum(r["tokens"] for r in rs) / len(fixed)) if fixed else None,
            "generated": sum(r.get("generated", 0) for r in rs), "validated": sum(r.get("validated", 0) for r in rs),
            "peak_rss_mb": max((r.get("peak_rss_mb") or 0) for r in rs) if rs else 0,
            "hit_at": {k: (sum(1 for x in ranks if x is not None and x <= k) / len(ranks)) if ranks else None
                       for k in (1, 3, 5)},
        }
    return out


def by_kind(rows: list[dict]) -> dict[str, dict[str, float]]:
    kinds: dict[str, dict[str, list[bool]]] = {}
    for r in rows:
        kinds.setdefault(r.get("bug_kind") or "unknown", {}).setdefault(r["config"], []).append(bool(r.get("fixed")))
    return {k: {c: sum(v) / len(v) for c, v in cs.items()} for k, cs in sorted(kinds.items())}


def ratios(summary: dict[str, dict], base: str = "default", peer: str = "naive") -> dict[str, float | None]:
    if base not in summary or peer not in summary:
        return {}
    a, b = summary[base], summary[peer]

    def ratio(x, y):
        return round(x / y, 2) if x is not None and y else None
    return {"fix_rate": ratio(a["fix_rate"], b["fix_rate"]), "correct_rate": ratio(a["correct_rate"], b["correct_rate"]),
            "median_seconds": ratio(a["median_seconds"], b["median_seconds"]),
            "tokens_per_fix": ratio(a["tokens_per_fix"], b["tokens_per_fix"])}


def charts(rows: list[dict], summary: dict[str, dict], out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfgs = list(summary)
    files = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    w = 0.38
    xs = range(len(cfgs))
    ax.bar([x - w / 2 for x in xs], [summary[c]["fix_rate"] * 100 for c in cfgs], w, label="fixed (visible tests)")
    ax.bar([x + w / 2 for x in xs], [(summary[c]["correct_rate"] or 0) * 100 for c in cfgs], w,
           label="correct (hidden tests)")
    ax.set_xticks(list(xs), cfgs)
    ax.set_ylabel("% of tasks")
    ax.set_ylim(0, 105)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Fix rate per config")
    save(fig, "fix_rate.png")

    kinds = by_kind(rows)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    w = 0.8 / max(1, len(cfgs))
    for i, c in enumerate(cfgs):
        ax.bar([k + i * w for k in range(len(kinds))], [kinds[k].get(c, 0) * 100 for k in kinds], w, label=c)
    ax.set_xticks([k + w * (len(cfgs) - 1) / 2 for k in range(len(kinds))], list(kinds), rotation=25, ha="right")
    ax.set_ylabel("% fixed")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("Fix rate per bug kind")
    save(fig, "by_kind.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.boxplot([[r["seconds"] for r in rows if r["config"] == c] for c in cfgs], tick_labels=cfgs)
    for i, c in enumerate(cfgs, 1):
        ys = [r["seconds"] for r in rows if r["config"] == c]
        ax.scatter([i] * len(ys), ys, s=10, alpha=0.6)
    ax.set_ylabel("wall seconds per task")
    ax.set_title("Time per task")
    save(fig, "time.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(cfgs, [summary[c]["tokens_per_fix"] or 0 for c in cfgs])
    ax.set_ylabel("generated tokens / fix")
    ax.set_title("Tokens per fix")
    save(fig, "tokens.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for c in cfgs:
        hit = summary[c]["hit_at"]
        if any(v is not None for v in hit.values()):
            ax.plot(list(hit), [(hit[k] or 0) * 100 for k in hit], marker="o", label=c)
    ax.set_xticks([1, 3, 5])
    ax.set_xlabel("k")
    ax.set_ylabel("% tasks with the fix in the top-k spans")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("Localization hit@k")
    save(fig, "hit_at_k.png")
    return files


def _fmt(v, pct=False):
    if v is None:
        return "–"
    if pct:
        return f"{v * 100:.0f}%"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def write(run_dir: Path) -> tuple[Path, Path]:
    rows = load_rows(run_dir)
    prov = json.loads((run_dir / "provenance.json").read_text()) if (run_dir / "provenance.json").exists() else {}
    summary = summarize(rows)
    imgs = charts(rows, summary, run_dir)
    rat = ratios(summary)
    head = ["config", "tasks", "fixed", "correct", "regressions", "median s", "p90 s", "tokens/fix",
            "hit@1", "hit@3", "hit@5", "candidates gen/val", "peak RSS MB", "crashes"]
    table = [[c, s["tasks"], _fmt(s["fix_rate"], True), _fmt(s["correct_rate"], True), s["regressions"],
              _fmt(s["median_seconds"]), _fmt(s["p90_seconds"]), _fmt(s["tokens_per_fix"]),
              _fmt(s["hit_at"][1], True), _fmt(s["hit_at"][3], True), _fmt(s["hit_at"][5], True),
              f"{s['generated']}/{s['validated']}", _fmt(s["peak_rss_mb"]), s["crashes"] + s["timeouts"]]
             for c, s in summary.items()]
    machine = prov.get("machine", {})
    md = ["# debugger eval report", "",
          f"Run `{run_dir.name}` — git `{(prov.get('git_sha') or '?')[:10]}`{' (dirty)' if prov.get('git_dirty') else ''}, "
          f"{prov.get('started', '?')}, {machine.get('cores', '?')} cores, {machine.get('cpu', '?')}, "
          f"{machine.get('platform', '?')}", "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(str(x) for x in row) + " |" for row in table]
    if rat:
        md += ["", "**debugger vs naive** (ratios, same model, same tasks): "
               + ", ".join(f"{k} ×{v}" for k, v in rat.items() if v is not None)]
    md += ["", "## Per task", "", "| task | kind | " + " | ".join(summary) + " |", "|---|---|" + "---|" * len(summary)]
    tasks = dict.fromkeys(r["task"] for r in rows)
    for t in tasks:
        cells = []
        for c in summary:
            r = next((r for r in rows if r["task"] == t and r["config"] == c), None)
            cells.append("" if r is None else f"{'✔' if r.get('correct') or (r.get('correct') is None and r.get('fixed')) else '✘'} "
                         f"{r['status']} {r['seconds']:.0f}s")
        kind = next((r.get("bug_kind") or "" for r in rows if r["task"] == t), "")
        md.append(f"| {t} | {kind} | " + " | ".join(cells) + " |")
    md += [""] + [f"![{i}]({i})" for i in imgs]
    md += ["", "## Provenance", "", "```json", json.dumps({k: v for k, v in prov.items() if k != "configs"}, indent=2),
           "```", ""]
    for name, text in prov.get("configs", {}).items():
        md += [f"Config `{name}`:", "", "```toml", text.rstrip(), "```", ""]
    md_path = run_dir / "report.md"
    md_path.write_text("\n".join(md))
    html_path = run_dir / "report.html"
    html_path.write_text(_html(table, head, rat, imgs, prov, run_dir.name))
    (run_dir / "summary.json").write_text(json.dumps({"summary": summary, "ratios": rat, "by_kind": by_kind(rows)},
                                                     indent=2))
    return md_path, html_path


def _html(table, head, rat, imgs, prov, name) -> str:
    e = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in r) + "</tr>" for r in table)
    ratio = ", ".join(f"{e(k)} ×{v}" for k, v in rat.items() if v is not None)
    figs = "".join(f'<figure><img src="{e(i)}" alt="{e(i)}"></figure>' for i in imgs)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>debugger eval {e(name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
figure{{display:inline-block;margin:8px}}img{{max-width:520px}}pre{{background:#f6f6f6;padding:1em}}</style></head>
<body><h1>debugger eval report</h1><p>Run {e(name)}</p>
<table><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr>{rows}</table>
<p><b>debugger vs naive:</b> {ratio or '–'}</p>{figs}
<h2>Provenance</h2><pre>{e(json.dumps(prov, indent=2))}</pre></body></html>"""
