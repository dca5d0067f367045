"""Benchmark `debugger fix` on the bundled examples: fixes, median seconds and tokens per bug.

    python eval/bench_examples.py [--config default] [--model M] [--tasks a,b] [--out RUN_DIR]

A thin script over the eval runner (`debugger eval examples` does the same for several configs and
writes the full report): each example is repaired in a fresh copy with `--apply --json`, its tests run
again, and hidden judge tests (eval/judges/) that the tool never saw decide whether the fix is correct.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path


from debugger.eval import runner, tasks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="default")
    ap.add_argument("--model")
    ap.add_argument("--tasks")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-examples-"))
    bench = tasks.from_examples(out / "tasks")
    if args.tasks:
        bench = [t for t in bench if t.id in args.tasks.split(",")]

    def show(r: dict) -> None:
        judge = {True: "correct", False: "JUDGE FAIL", None: ""}[r["correct"]]
        print(f"{r['task']:<20} {r['status']:<12} {judge:<10} {r['seconds']:>6.1f}s {r['tokens']:>5} tok  "
              f"{(r['winner'] or {}).get('origin', '') or (r['error'] or '')[:60]}", flush=True)
    rows = runner.run(bench, [args.config], out, extra=["--model", args.model] if args.model else [], on_row=show)
    secs, toks = [r["seconds"] for r in rows], [r["tokens"] for r in rows]
    print(f"fixed {sum(r['fixed'] for r in rows)}/{len(rows)}  correct (hidden tests) "
          f"{sum(bool(r['correct']) for r in rows)}  median {statistics.median(secs):.1f}s/bug  "
          f"median {statistics.median(toks):.0f} generated tokens/bug  "
          f"({platform.machine()}, {os.cpu_count()} cores)  results: {out}/results.jsonl")
    return 0 if all(r["status"] not in ("crash", "error") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
