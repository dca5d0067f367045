"""Seconds to a result: a cold `debugger fix` process against the same repair through a warm `debugger serve`.

    python eval/bench_serve.py [--example off_by_one --file textstats/windows.py] [--repeat 3] [--out docs/eval-serve]

Each round copies a bundled example afresh and repairs it three ways with the shipped defaults (the model's
candidates only, `--formats infill,rewrite`, so that every repair needs the model): a new `debugger fix
--json` process; the first job of a new server (it loads the model); the next job of that server (warm).
Prints a table with the commit and writes it, with the raw times, to OUT/report.md and OUT/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TOKEN = "bench-serve-token"
ASK = {"formats": ["infill", "rewrite"]}


def example(name: str) -> Path:
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    shutil.copytree(EXAMPLES / name, work / name)
    return work / name


def cold(name: str, file: str) -> float:
    root = example(name)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "debugger.cli", "fix", file, "--json", "--formats", "infill,rewrite"],
                       cwd=root, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    assert json.loads(p.stdout)["status"] == "fixed", p.stdout[-500:]
    return seconds


def request(url: str, method: str = "GET", body: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=900) as r:
        return json.loads(r.read())


def through_server(name: str, file: str) -> tuple[float, float]:
    root = example(name)
    p = subprocess.Popen([sys.executable, "-m", "debugger.cli", "serve", "--port", "0", "--root", str(root)],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                         env=dict(os.environ, DEBUGGER_TOKEN=TOKEN))
    try:
        url = next(ln.split("listening on ", 1)[1].split()[0] for ln in p.stderr if "listening on " in ln)
        times = []
        for _ in range(2):
            (root / file).write_bytes((EXAMPLES / name / file).read_bytes())
            t0 = time.monotonic()
            job = request(f"{url}/v1/fix", "POST", {"file": file, **ASK})
            while (state := request(f"{url}/v1/jobs/{job['id']}"))["state"] not in ("done", "failed", "cancelled"):
                time.sleep(0.1)
            times.append(time.monotonic() - t0)
            assert state["result"]["status"] == "fixed", state
        return times[0], times[1]
    finally:
        p.terminate()
        p.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--example", default="off_by_one")
    ap.add_argument("--file", default="textstats/windows.py", help="the example's buggy file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=None, help="folder for report.md and results.json")
    args = ap.parse_args(argv)
    rows = {"cold process": [], "server, first job": [], "server, next job": []}
    for _ in range(args.repeat):
        rows["cold process"].append(cold(args.example, args.file))
        first, warm = through_server(args.example, args.file)
        rows["server, first job"].append(first)
        rows["server, next job"].append(warm)
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=EXAMPLES.parent).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True, cwd=EXAMPLES.parent).stdout.strip())
    lines = [f"`python eval/bench_serve.py --example {args.example} --repeat {args.repeat}` at git `{sha}`"
             f"{' (uncommitted changes)' if dirty else ''}, {os.cpu_count()} cores; seconds to a verified fix, "
             "the model's candidates only (--formats infill,rewrite), shipped defaults otherwise:", "",
             "| how | median s | runs |", "|---|---|---|"]
    lines += [f"| {k} | {statistics.median(v):.1f} | {', '.join(f'{x:.1f}' for x in v)} |" for k, v in rows.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(text)
        (out / "results.json").write_text(json.dumps({"git": sha, "dirty": dirty, "example": args.example,
                                                      "seconds": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
