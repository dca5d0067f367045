"""Metrics, charts and the Markdown/HTML report of one eval run directory (results.jsonl + provenance.json)."""
from __future__ import annotations

import html
import json
import statistics
from pathlib import Path

from debugger.provenance import build_name


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
            # of the fixes it reported (plausible: the visible tests pass), how many the hidden judge accepts
            "precision": (sum(bool(r.get("correct")) for r in fixed if r.get("correct") is not None)
                          / sum(r.get("correct") is not None for r in fixed))
            if any(r.get("correct") is not None for r in fixed) else None,
            **trust(fixed),
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


def trust(fixed: list[dict]) -> dict:
    """What the tool's own confidence was worth: of the fixes it called high, how many the judge accepts; of
    the wrong fixes, how many it flagged (confidence below high, or alternatives shown); what selection cost."""
    judged = [r for r in fixed if r.get("correct") is not None]
    high = [r for r in judged if r.get("confidence") == "high"]
    wrong = [r for r in judged if not r.get("correct")]
    # a choice at random among the candidates that passed: its expected correct fixes, on the same tasks
    judged_all = [r for r in judged if [x for x in r.get("passing_correct") or [] if x is not None]]
    random_correct = sum(sum(bool(x) for x in r["passing_correct"] if x is not None) /
                         len([x for x in r["passing_correct"] if x is not None]) for r in judged_all)
    flagged = [r for r in wrong if r.get("confidence") != "high" or r.get("alternatives")]
    sel = [r["selection_seconds"] for r in fixed if r.get("selection_seconds") is not None]
    return {"high": len(high), "high_correct": sum(bool(r.get("correct")) for r in high),
            "high_precision": sum(bool(r.get("correct")) for r in high) / len(high) if high else None,
            "wrong": len(wrong), "wrong_flagged": len(flagged),
            "choice_tasks": len(judged_all), "chosen_correct": sum(bool(r.get("correct")) for r in judged_all),
            "random_correct": round(random_correct, 2),
            "selection_median_seconds": statistics.median(sel) if sel else None}


def source(row: dict) -> str:
    """Where a claimed fix came from: a probe mutant (no model) undoing a slip or in a human fix's shape, an
    infill, a rewrite, or any of them in a feedback round (after a first round that passed nothing)."""
    winner = row.get("winner") or {}
    if winner.get("round"):
        return "feedback round"
    origin = winner.get("origin") or ""
    if origin.startswith("mutant"):
        return "probe shape" if winner.get("shape") else "probe mutant"
    return origin.split(" ")[0] or "unknown"


def by_source(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """Per config and source: fixes claimed (the visible tests pass) and correct (the hidden judge passes)."""
    out: dict[str, dict[str, dict]] = {}
    for r in rows:
        if r.get("fixed"):
            cell = out.setdefault(r["config"], {}).setdefault(source(r), {"claimed": 0, "correct": 0})
            cell["claimed"] += 1
            cell["correct"] += bool(r.get("correct"))
    return out


def by_confidence(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """Per config and confidence level: fixes claimed, how many correct, and so the level's precision."""
    out: dict[str, dict[str, dict]] = {}
    for r in rows:
        if r.get("fixed") and r.get("correct") is not None:
            cell = out.setdefault(r["config"], {}).setdefault(r.get("confidence") or "none",
                                                               {"claimed": 0, "correct": 0})
            cell["claimed"] += 1
            cell["correct"] += bool(r.get("correct"))
    for levels in out.values():
        for cell in levels.values():
            cell["precision"] = cell["correct"] / cell["claimed"]
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


SOURCES = ("probe mutant", "probe shape", "infill", "rewrite", "naive", "feedback round")
LEVELS = ("high", "medium", "low")


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
    head = ["config", "tasks", "fixed", "correct", "precision", "high: correct", "wrong flagged", "regressions",
            "median s", "p90 s", "selection s", "tokens/fix",
            "hit@1", "hit@3", "hit@5", "candidates gen/val", "peak RSS MB", "crashes"]
    table = [[c, s["tasks"], _fmt(s["fix_rate"], True), _fmt(s["correct_rate"], True), _fmt(s["precision"], True),
              f"{s['high_correct']}/{s['high']}", f"{s['wrong_flagged']}/{s['wrong']}", s["regressions"],
              _fmt(s["median_seconds"]), _fmt(s["p90_seconds"]), _fmt(s["selection_median_seconds"]),
              _fmt(s["tokens_per_fix"]), _fmt(s["hit_at"][1], True), _fmt(s["hit_at"][3], True), _fmt(s["hit_at"][5], True),
              f"{s['generated']}/{s['validated']}", _fmt(s["peak_rss_mb"]), s["crashes"] + s["timeouts"]]
             for c, s in summary.items()]
    machine = prov.get("machine", {})
    md = ["# debugger eval report", "",
          f"Run `{run_dir.name}` — git `{(prov.get('git_sha') or '?')[:10]}`{' (dirty)' if prov.get('git_dirty') else ''}, "
          f"{prov.get('started', '?')}, {machine.get('cores', '?')} cores, {machine.get('cpu', '?')}, "
          f"{machine.get('platform', '?')}"
          + (f"; llama.cpp compiled for {build_name(prov['engine_build'])}" if prov.get("engine_build") else ""), "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(str(x) for x in row) + " |" for row in table]
    if rat:
        md += ["", "**debugger vs naive** (ratios, same model, same tasks): "
               + ", ".join(f"{k} ×{v}" for k, v in rat.items() if v is not None)]
    for c, s in summary.items():
        if s["choice_tasks"]:
            md += ["", f"**Choosing** (`{c}`): on the {s['choice_tasks']} judged fixes, the chosen candidate was correct "
                   f"{s['chosen_correct']} times; a choice at random among the candidates that passed would be "
                   f"correct {s['random_correct']:.1f} times (expected)."]
    sources, levels = by_source(rows), by_confidence(rows)
    if sources:
        md += ["", "## Fixes by source", "", "Correct of claimed (a claim: the visible tests pass).", "",
               "| config | " + " | ".join(SOURCES) + " |", "|---|" + "---|" * len(SOURCES)]
        md += [f"| {c} | " + " | ".join(f"{s.get(k, {}).get('correct', 0)}/{s.get(k, {}).get('claimed', 0)}"
                                       for k in SOURCES) + " |" for c, s in sources.items()]
    if levels:
        md += ["", "## Claims by confidence", "", "| config | " + " | ".join(LEVELS) + " |", "|---|" + "---|" * len(LEVELS)]
        md += [f"| {c} | " + " | ".join(f"{v['correct']}/{v['claimed']} ({v['precision'] * 100:.0f}%)" if (v := s.get(k))
                                       else "–" for k in LEVELS) + " |" for c, s in levels.items()]
    md += ["", "## Per task", "", "| task | kind | " + " | ".join(summary) + " |", "|---|---|" + "---|" * len(summary)]
    tasks = dict.fromkeys(r["task"] for r in rows)
    for t in tasks:
        cells = []
        for c in summary:
            r = next((r for r in rows if r["task"] == t and r["config"] == c), None)
            conf = f" {r['confidence']}" if r is not None and r.get("confidence") else ""
            alt = f" +{r['alternatives']} alt" if r is not None and r.get("alternatives") else ""
            cells.append("" if r is None else f"{'✔' if r.get('correct') or (r.get('correct') is None and r.get('fixed')) else '✘'} "
                         f"{r['status']}{conf}{alt} {r['seconds']:.0f}s")
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
    (run_dir / "summary.json").write_text(json.dumps({"summary": summary, "ratios": rat, "by_kind": by_kind(rows),
                                                      "by_source": sources, "by_confidence": levels}, indent=2))
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


def paired(rows: list[dict], a: str, b: str) -> dict:
    """Config `a` against `b` on the tasks both ran: correct fixes only one of them made, and time per
    task (the ratio of medians hides which tasks got slower; the per-task ratio's median does not)."""
    ra = {r["task"]: r for r in rows if r["config"] == a}
    rb = {r["task"]: r for r in rows if r["config"] == b}
    both = [t for t in ra if t in rb]
    ok = lambda r: bool(r.get("correct"))  # noqa: E731
    ratios = sorted(ra[t]["seconds"] / rb[t]["seconds"] for t in both if rb[t]["seconds"] > 0)
    only_a = sum(ok(ra[t]) and not ok(rb[t]) for t in both)
    only_b = sum(ok(rb[t]) and not ok(ra[t]) for t in both)
    return {"tasks": len(both), "only_a": only_a, "only_b": only_b, **paired_difference(only_a, only_b, len(both)),
            "a_faster": sum(ra[t]["seconds"] < rb[t]["seconds"] for t in both),
            "median_time_ratio": statistics.median(ratios) if ratios else None}


def paired_difference(only_a: int, only_b: int, n: int) -> dict:
    """`a`'s correct rate minus `b`'s on n paired tasks, with a 95% interval (the paired-proportions Wald
    interval: only the tasks one of them alone fixed carry information) and McNemar's exact two-sided p."""
    import math
    if not n:
        return {"difference": None, "ci95": None, "p_mcnemar": None}
    d = (only_a - only_b) / n
    half = 1.959964 * math.sqrt(max(0.0, (only_a + only_b) - (only_a - only_b) ** 2 / n)) / n
    k, m = min(only_a, only_b), only_a + only_b
    p = min(1.0, 2 * sum(math.comb(m, i) for i in range(k + 1)) / 2 ** m) if m else 1.0
    return {"difference": d, "ci95": (max(-1.0, d - half), min(1.0, d + half)), "p_mcnemar": p}


README_START = "<!-- results: written by `debugger eval report RUN_DIR --readme README.md`; not by hand -->"
README_END = "<!-- results: end -->"


def beside_rows(run_dir: Path) -> list[dict]:
    """Another run's rows for a README table, each config labelled with that run's commit (`default@c418a62`),
    so the same tasks run by an older build sit beside this run's and are paired with it."""
    prov = json.loads((run_dir / "provenance.json").read_text()) if (run_dir / "provenance.json").exists() else {}
    sha = (prov.get("git_sha") or "?")[:7]
    return [{**r, "config": f"{r['config']}@{sha}"} for r in load_rows(run_dir)]


def _claims(s: dict, levels: dict) -> str:
    """Wrong claims by confidence: `2 (0 high, 1 medium, 1 low)`."""
    wrong = {k: v["claimed"] - v["correct"] for k, v in levels.items()}
    return f"{s['wrong']} (" + ", ".join(f"{wrong.get(k, 0)} {k}" for k in LEVELS) + ")"


def readme_block(run_dir: Path, link: str | None = None, beside: Path | None = None) -> str:
    """The README's results table from one run: per config correct, claimed, wrong claims by confidence,
    localization hit@1/3/5, time and tokens, then fixes by source; the run's commit and whether the tree was
    clean; `default` paired against each other config (and against `beside`, an older build's run of the same
    tasks)."""
    older = beside_rows(beside) if beside else []
    rows = load_rows(run_dir) + older
    prov = json.loads((run_dir / "provenance.json").read_text()) if (run_dir / "provenance.json").exists() else {}
    summary, sources, levels = summarize(rows), by_source(rows), by_confidence(rows)
    sha = (prov.get("git_sha") or "?")[:7]
    machine = prov.get("machine", {})
    tasks = len({r["task"] for r in rows})
    where = f"[{link}]({link})" if link else f"`{run_dir}`"
    out = [README_START, "",
           f"One run of `debugger eval` at commit `{sha}`{' (uncommitted changes)' if prov.get('git_dirty') else ''}, "
           f"{machine.get('cores', '?')} CPU cores, {machine.get('cpu', '?')}, no GPU"
           + (f", llama.cpp compiled for {build_name(prov['engine_build'])}" if prov.get("engine_build") else "")
           + (f", settings {' '.join(prov['overrides'])}" if prov.get("overrides") else "")
           + f", {tasks} tasks"
           + (f"; beside it, the same tasks run by commit `{older[0]['config'].split('@')[1]}`" if older else "")
           + f". Correct: the task's hidden judge passes too; claimed: the visible tests pass. Report: {where}.", "",
           "| config | tasks | correct | claimed | correct / claimed | wrong claims (by confidence) | "
           "localization hit@1 / 3 / 5 | median s | tokens / claim | peak RSS |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for c, s in summary.items():
        rss = f"{s['peak_rss_mb'] / 1024:.1f} GB" if s["peak_rss_mb"] else "–"
        hit = " / ".join(_fmt(s["hit_at"][k], True) for k in (1, 3, 5))
        out.append(f"| {c} | {s['tasks']} | {s['correct']} | {s['fixed']} | {_fmt(s['precision'], True)} | "
                   f"{_claims(s, levels.get(c, {}))} | {hit} | {s['median_seconds']:.1f} | "
                   f"{_fmt(s['tokens_per_fix'])} | {rss} |")
    for c, src in sources.items():
        out += ["", f"Fixes of `{c}` by source, correct of claimed: "
                + ", ".join(f"{k} {v['correct']}/{v['claimed']}" for k, v in sorted(src.items(), key=lambda kv: -kv[1]["claimed"]))
                + "."]
    if "default" in summary:
        for peer in (c for c in summary if c != "default"):
            p = paired(rows, "default", peer)
            ratio = f", median time ratio {p['median_time_ratio']:.2f}" if p["median_time_ratio"] is not None else ""
            lo, hi = p["ci95"] or (0.0, 0.0)
            diff = (f" (difference {100 * p['difference']:+.1f} points, 95% CI {100 * lo:+.1f} to {100 * hi:+.1f}, "
                    f"McNemar p {p['p_mcnemar']:.2g})") if p["difference"] is not None else ""
            out += ["", f"`default` against `{peer}` on the same {p['tasks']} tasks: {p['only_a']} fixed correctly "
                    f"by `default` only, {p['only_b']} by `{peer}` only{diff}; `default` faster on "
                    f"{p['a_faster']}{ratio}."]
    return "\n".join(out + ["", README_END])


def write_readme(readme: Path, block: str) -> None:
    """Replace the results block between the markers (atomically); a README without them is refused."""
    import os
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme}: no results block to replace (put the two marker lines where the table "
                         f"goes: {README_START!r} and {README_END!r})")
    new = text[:start] + block + text[end + len(README_END):]
    tmp = readme.with_name(readme.name + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, readme)
