"""Benchmark `debugger fix` on the bundled examples: fixes, median seconds and tokens per bug.

    python eval/bench_examples.py [--model qwen2.5-coder-0.5b] [--only NAME ...] [--json out.json]

Each example is copied to a temporary directory and repaired there with `--apply --json`, exactly as a
user would run it; the example's own tests then run once more on the applied file as a check.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
JUDGES = Path(__file__).resolve().parent / "judges"


def targets() -> dict[str, str]:
    """example name -> file to repair, from each example's bug.json."""
    out = {}
    for d in sorted(EXAMPLES.iterdir()):
        meta = d / "bug.json"
        if meta.is_file():
            out[d.name] = json.loads(meta.read_text())["file"]
    return out


def judge_passes(name: str, proj: Path) -> bool | None:
    """Hidden tests (eval/judges/test_NAME.py) the tool never saw, run against the repaired project."""
    src = JUDGES / f"test_{name}.py"
    if not src.is_file():
        return None
    shutil.copy(src, proj / "test_judge_hidden.py")
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_judge_hidden.py"],
                       cwd=proj, capture_output=True, text=True, timeout=300)
    return p.returncode == 0


def run_one(name: str, rel: str, extra: list[str]) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        proj = work / name
        shutil.copytree(EXAMPLES / name, proj, ignore=shutil.ignore_patterns("__pycache__", "bug.json"))
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "repair.cli", "fix", rel, "--apply", "--json", *extra],
                           cwd=proj, capture_output=True, text=True)
        wall = time.monotonic() - t0
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            res = {"status": "crash", "error": (p.stderr or p.stdout)[-2000:]}
        check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=proj,
                               capture_output=True, text=True, timeout=300)
        judge = judge_passes(name, proj)
        return {"example": name, "status": res.get("status"), "exit": p.returncode, "wall": round(wall, 1),
                "tokens": res.get("tokens", 0), "candidates": res.get("candidates"), "winner": res.get("winner"),
                "tests_pass_after": check.returncode == 0, "judge": judge, "error": res.get("error")}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--json", dest="json_out")
    args, extra = ap.parse_known_args(argv)
    if args.model:
        extra += ["--model", args.model]
    rows = []
    for name, rel in targets().items():
        if args.only and name not in args.only:
            continue
        r = run_one(name, rel, extra)
        rows.append(r)
        judge = {True: "judge ok", False: "JUDGE FAIL", None: ""}[r["judge"]]
        print(f"{name:<20} {r['status']:<12} {judge:<10} {r['wall']:>6.1f}s {r['tokens']:>5} tok  "
              f"{(r['winner'] or {}).get('origin', '') or (r['error'] or '')[:60]}", flush=True)
    fixed = [r for r in rows if r["status"] == "fixed" and r["tests_pass_after"]]
    correct = [r for r in fixed if r["judge"] is not False]
    secs = [r["wall"] for r in rows]
    toks = [r["tokens"] for r in rows]
    summary = {"fixed": len(fixed), "correct": len(correct), "total": len(rows), "median_seconds": statistics.median(secs) if secs else 0,
               "median_tokens": statistics.median(toks) if toks else 0,
               "machine": f"{platform.machine()} {platform.processor() or ''} cores={__import__('os').cpu_count()}"}
    print(f"fixed {summary['fixed']}/{summary['total']}  correct (hidden tests) {summary['correct']}  median {summary['median_seconds']:.1f}s/bug  "
          f"median {summary['median_tokens']:.0f} generated tokens/bug  ({summary['machine']})")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    return 0 if all(r["status"] != "crash" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
