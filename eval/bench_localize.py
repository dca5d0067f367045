"""Localization benchmark: top-1/3/5 span hit rates per signal and fused, and what localization costs.

    python eval/bench_localize.py [--records data/corpus/bugs.jsonl] [--split test] [--limit 150]
                                  [--fit-split train] [--fit-limit 120] [--no-surprisal] [--out runs/localize]

Bugs are the bundled examples plus the records of `--split` (the held-out projects by default). For
each, one run of the visible tests records per-test lines (the same run `debugger fix` makes) and one
forward pass gives the surprisal. A hit at k: one of the first k statements ranked contains the changed
lines of the reference fix (for an inserted line, the statement before or after the gap). Weights are
fitted by grid search on `--fit-split` bugs (projects disjoint from the evaluated ones) and reported on
`--split`. Prints a table, writes results.json, report.md and a chart to --out.
"""
from __future__ import annotations

import argparse
import functools
import itertools
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repair import spans as sp  # noqa: E402
from repair.config import FixConfig  # noqa: E402
from repair.localize import Weights, localize, suspect_range  # noqa: E402
from repair.pipeline import _baseline  # noqa: E402
from repair.source import load  # noqa: E402

from eval.tasks import from_examples, from_records  # noqa: E402

KS = (1, 3, 5)
SINGLE = {  # each signal alone: the others weigh nothing (they still define which lines are candidates)
    "traceback": (Weights(syntax=1, traceback=1, spectrum=0, surprisal=0), "ochiai"),
    "ochiai": (Weights(syntax=0, traceback=0, spectrum=1, surprisal=0), "ochiai"),
    "dstar": (Weights(syntax=0, traceback=0, spectrum=1, surprisal=0), "dstar"),
    "surprisal": (Weights(syntax=0, traceback=0, spectrum=0, surprisal=1), "ochiai"),
}
GRID = {"traceback": (0, 0.02, 0.1, 0.25, 0.5, 1, 2), "spectrum": (0, 0.25, 0.5, 1, 2),
        "surprisal": (0, 0.01, 0.05, 0.1, 0.25, 0.5, 1), "formula": ("ochiai", "dstar")}


@dataclass
class Case:
    id: str
    split: str
    kind: str
    fix: tuple[int, int]  # buggy-side lines of the reference change; end < start: an insertion
    test_seconds: float
    surprisal_seconds: float
    src: object = None
    report: object = None
    surprisal: dict | None = None


def hit_rank(case: Case, weights: Weights, formula: str) -> int | None:
    loc = localize(case.src, case.report, surprisal=case.surprisal, weights=weights, top_k=10_000, formula=formula)
    s, e = case.fix
    for i, st in enumerate(loc.statements, 1):
        if (e >= s and st.start_line <= s and e <= st.end_line) or \
                (e < s and (st.start_line <= s <= st.end_line or st.start_line <= s - 1 <= st.end_line)):
            return i
    return None


def rates(cases: list[Case], weights: Weights, formula: str) -> dict[str, float]:
    ranks = [hit_rank(c, weights, formula) for c in cases]
    return {f"top{k}": sum(r is not None and r <= k for r in ranks) / max(1, len(ranks)) for k in KS}


def objective(r: dict[str, float]) -> float:
    return r["top1"] + 0.5 * r["top3"] + 0.25 * r["top5"]


def fit(cases: list[Case], surprisal: bool) -> tuple[Weights, str, dict]:
    best = None
    for tb, spec, sur, formula in itertools.product(*GRID.values()):
        if not surprisal and sur:
            continue
        w = Weights(syntax=1.0, traceback=tb, spectrum=spec, surprisal=sur)
        r = rates(cases, w, formula)
        key = (objective(r), -abs(tb - 1) - abs(spec - 0.6))  # ties: stay near the hand-set weights
        if best is None or key > best[0]:
            best = (key, w, formula, r)
    return best[1], best[2], best[3]


def save_cases(cases: list[Case], path: Path) -> None:
    with path.open("w") as f:
        for c in cases:
            tests = {n: {"outcome": t.outcome, "lines": t.lines, "frames": [[fr.file, fr.line, fr.name] for fr in t.frames]}
                     for n, t in c.report.tests.items()}
            f.write(json.dumps({"id": c.id, "split": c.split, "kind": c.kind, "fix": c.fix, "test_seconds": c.test_seconds,
                                "surprisal_seconds": c.surprisal_seconds, "path": str(c.src.path),
                                "root": str(c.src.root), "text": c.src.text, "tests": tests,
                                "surprisal": c.surprisal}) + "\n")


def load_cases(path: Path, split: str) -> list[Case]:
    from repair.source import SourceFile
    from repair.testrun import Frame, TestCase, TestReport
    cases = []
    for ln in path.read_text().splitlines():
        d = json.loads(ln)
        if d["split"] != split:
            continue
        src = SourceFile(Path(d["path"]), Path(d["root"]), d["text"].encode(), "utf-8", False, d["text"], 0o644)
        tests = {n: TestCase(n, t["outcome"], "", [Frame(*f) for f in t["frames"]], t["lines"])
                 for n, t in d["tests"].items()}
        sur = {int(k): v for k, v in d["surprisal"].items()} if d["surprisal"] else None
        cases.append(Case(d["id"], d["split"], d["kind"], tuple(d["fix"]), d["test_seconds"], d["surprisal_seconds"],
                          src, TestReport("", 1, False, 0.0, "", tests), sur))
    return cases


def collect(tasks, split: str, gen, on_progress) -> list[Case]:
    cfg = FixConfig(test_timeout=10, timeout=300)
    cases = []
    for i, t in enumerate(tasks, 1):
        on_progress(f"{split} {i}/{len(tasks)} {t.id}")
        try:
            src = load(t.project / t.file)
        except ValueError:
            continue
        t0 = time.monotonic()
        report = _baseline(src, t.test, cfg)
        tests = time.monotonic() - t0
        if not report.failing:
            continue
        t0 = time.monotonic()
        where = suspect_range(src, report)
        scores = gen.line_surprisal(src.text, where) if gen is not None and where else None
        sur = time.monotonic() - t0
        s, e = t.fix_lines or (0, -1)
        cases.append(Case(t.id, split, t.bug_kind or "", (s, e), tests, sur, src, report, scores))
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", default="data/corpus/bugs.jsonl")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=150)
    ap.add_argument("--fit-split", default="train")
    ap.add_argument("--fit-limit", type=int, default=120)
    ap.add_argument("--no-surprisal", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="runs/localize")
    ap.add_argument("--reuse", action="store_true", help="Re-rank the cases saved by an earlier run (OUT/cases.jsonl).")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("statements", "functions", "error_lines"):  # the grid re-ranks the same files many times
        setattr(sp, name, functools.lru_cache(maxsize=1024)(getattr(sp, name)))
    cache = out / "cases.jsonl"
    gen = None
    if a.reuse:
        fit_cases, cases = load_cases(cache, a.fit_split), load_cases(cache, a.split)
    else:
        if not a.no_surprisal:
            from repair.hf_generator import HFGenerator
            from repair.packs import DEFAULT_MODEL
            gen = HFGenerator(DEFAULT_MODEL, None, a.threads)
        say = lambda m: print(f"\r\033[K{m}", end="", file=sys.stderr, flush=True)  # noqa: E731
        records = Path(a.records)
        evaluated = from_examples(out / "tasks" / "examples")
        if records.exists():
            evaluated += from_records(records, out / "tasks" / a.split, split=a.split, limit=a.limit)
        fitting = from_records(records, out / "tasks" / a.fit_split, split=a.fit_split, limit=a.fit_limit) \
            if records.exists() and a.fit_limit else []
        fit_cases = collect(fitting, a.fit_split, gen, say)
        cases = collect(evaluated, a.split, gen, say)
        print("\r\033[K", end="", file=sys.stderr)
        save_cases(fit_cases + cases, cache)
    with_surprisal = any(c.surprisal for c in cases)

    table = {name: rates(cases, w, f) for name, (w, f) in SINGLE.items() if with_surprisal or name != "surprisal"}
    table["fused (hand-set defaults)"] = rates(cases, Weights(), "ochiai")
    fitted_w, fitted_f, fit_rates = fit(fit_cases, with_surprisal) if fit_cases else (Weights(), "ochiai", {})
    table[f"fused (fitted on {a.fit_split})"] = rates(cases, fitted_w, fitted_f)
    kinds = sorted({c.kind for c in cases})
    by_kind = {k: rates([c for c in cases if c.kind == k], fitted_w, fitted_f) | {"n": sum(c.kind == k for c in cases)}
               for k in kinds}
    timing = {"test_run_median_s": statistics.median(c.test_seconds for c in cases) if cases else None,
              "surprisal_median_s": statistics.median(c.surprisal_seconds for c in cases) if with_surprisal else None}
    result = {"bugs": len(cases), "fit_bugs": len(fit_cases), "split": a.split, "fit_split": a.fit_split,
              "table": table, "fitted": {"weights": asdict(fitted_w), "formula": fitted_f, "fit_rates": fit_rates},
              "by_kind": by_kind, "timing": timing,
              "ranks": {c.id: {"kind": c.kind, "ochiai": hit_rank(c, *SINGLE["ochiai"]),
                               "fitted": hit_rank(c, fitted_w, fitted_f)} for c in cases}}
    (out / "results.json").write_text(json.dumps(result, indent=2))
    report = render(result)
    (out / "report.md").write_text(report)
    chart(table, out / "hits.png")
    print(report)
    return 0


def render(r: dict) -> str:
    lines = [f"Localization on {r['bugs']} bugs (examples + `{r['split']}` split); weights fitted on "
             f"{r['fit_bugs']} `{r['fit_split']}` bugs.", "", "| ranking | top-1 | top-3 | top-5 |", "|---|---|---|---|"]
    for name, v in r["table"].items():
        lines.append(f"| {name} | {v['top1']:.0%} | {v['top3']:.0%} | {v['top5']:.0%} |")
    f = r["fitted"]
    lines += ["", f"Fitted: {f['weights']} with {f['formula']}.", "", "| bug kind | n | top-1 | top-3 | top-5 |",
              "|---|---|---|---|---|"]
    for k, v in r["by_kind"].items():
        lines.append(f"| {k} | {v['n']} | {v['top1']:.0%} | {v['top3']:.0%} | {v['top5']:.0%} |")
    t = r["timing"]
    lines += ["", f"Cost: the recording test run takes {t['test_run_median_s']:.2f}s (median; it is the run "
              f"`debugger fix` makes anyway), the surprisal pass "
              + (f"{t['surprisal_median_s']:.2f}s." if t["surprisal_median_s"] is not None else "was skipped.")]
    return "\n".join(lines) + "\n"


def chart(table: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(table)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(KS)
    for i, k in enumerate(KS):
        ax.bar([x + i * width for x in range(len(names))], [table[n][f"top{k}"] * 100 for n in names], width,
               label=f"top-{k}")
    ax.set_xticks([x + width for x in range(len(names))], names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("bugs localized (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    ax.set_title("Fault localization: hit rate per signal and fused")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
