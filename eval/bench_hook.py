"""Overhead of the pre-commit hook on a clean commit (target < 0.5 s) and on a broken one.

    python eval/bench_hook.py [--repeat 5] [--model qwen2.5-coder-0.5b]

Builds a throw-away git repository from the `calc` test fixture, stages a clean change and then a
broken one, and times `debugger hook run --json` as git would run it. "Overhead" is the wall time of the
hook process minus the time its related tests took to run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def timed(repo: Path, *args: str) -> tuple[float, dict]:
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "debugger.cli", "hook", "run", "--json", *args], cwd=repo,
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    return wall, json.loads(p.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default=None, help="model for the broken commit (default: the default model)")
    args = ap.parse_args(argv)
    repo = Path(tempfile.mkdtemp(prefix="bench-hook-")) / "repo"
    shutil.copytree(FIX / "calc", repo)
    good = (FIX / "calc_fixed.py").read_text()
    (repo / "calc.py").write_text(good)
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=b@example.com", "-c", "user.name=b", "commit", "-q", "--allow-empty", "-m", "0")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=b@example.com", "-c", "user.name=b", "commit", "-qm", "init")

    (repo / "calc.py").write_text(good + "\n\ndef neg(x):\n    return -x\n")
    git(repo, "add", "calc.py")
    clean = [timed(repo) for _ in range(args.repeat)]
    overhead = [w - r["test_seconds"] for w, r in clean]
    print(f"clean commit:  wall median {statistics.median(w for w, _ in clean):.2f}s, "
          f"tests {statistics.median(r['test_seconds'] for _, r in clean):.2f}s, "
          f"debugger overhead median {statistics.median(overhead):.2f}s (max {max(overhead):.2f}s, "
          f"target < 0.5 s)")

    (repo / "calc.py").write_text(good.replace("return a * b", "return a + b"))
    git(repo, "add", "calc.py")
    wall, r = timed(repo, *(["--model", args.model] if args.model else []))
    sug = r["suggestions"][0] if r["suggestions"] else {}
    print(f"broken commit: wall {wall:.1f}s (tests {r['test_seconds']:.2f}s), {len(r['failing'])} failing, "
          f"suggestion: {sug.get('status', 'none')}")
    shutil.rmtree(repo.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
