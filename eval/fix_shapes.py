"""What the mutation probe's edits can undo: one-line fixes mined from git histories, checked against the edits.

    python -m debugger.eval.fix_shapes --mirror MIRROR --project owner+name [--project ...] [--commits 5000]
                                       [--all] [--limit 6] [--json]

Pure git, no test runs: every commit that changes one source file (not a test) by replacing one line with
another, where the change is code (its AST differs) inside a function, and (unless `--all`) the commit
changes tests too. For each, the statement around the changed line is mutated as the probe mutates it
(`debugger.localization.mutants.mutants`, `--limit` mutants, the probe's per-statement count by default) and
a fix counts as undone when a mutant's file has the fixed file's AST. Prints, per project and in all, the
fixes and how many a slip (the injected-bug operators) or a fix's shape (`_shapes`) undoes, and the labels
that did. The shapes were read off the tune-split projects' histories: report the others apart
(docs/localization.md). MIRROR holds `owner+name/repo` git directories, as the fetch tool leaves them.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from debugger.localization.mutants import _statement, mutants

TEST = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_test\.py$|conftest\.py$")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], capture_output=True, text=True,
                          errors="replace").stdout


def one_line_fixes(repo: Path, commits: int = 5000, tests: bool = True):
    """(sha, path, buggy text, fixed text, changed line) for each commit that replaces one line of one source file."""
    log = _git(repo, "log", "--no-merges", "-n", str(commits), "--format=@@%H %P", "--numstat", "HEAD")
    for block in log.split("@@")[1:]:
        head, *rows = block.strip().splitlines()
        shas = head.split()
        if len(shas) != 2:
            continue
        files = [r.split("\t") for r in rows if r.count("\t") == 2]
        src = [f for f in files if f[2].endswith(".py") and not TEST.search(f[2])]
        if len(src) != 1 or src[0][:2] != ["1", "1"] or (tests and not any(TEST.search(f[2]) for f in files)):
            continue
        sha, parent = shas
        buggy, fixed = _git(repo, "show", f"{parent}:{src[0][2]}"), _git(repo, "show", f"{sha}:{src[0][2]}")
        b, f = buggy.splitlines(), fixed.splitlines()
        changed = [i for i, (x, y) in enumerate(zip(b, f)) if x != y]
        if len(b) == len(f) and len(changed) == 1:
            yield sha, src[0][2], buggy, fixed, changed[0] + 1


def _key(text: str) -> str | None:
    try:
        return ast.dump(ast.parse(text))
    except (SyntaxError, ValueError):
        return None


def undone(buggy: str, fixed: str, line: int, limit: int):
    """Whether the change is code inside a function (else it is not counted), and the first mutant of the
    statement around `line` that makes the fixed file, or None."""
    kb, kf = _key(buggy), _key(fixed)
    if kb is None or kf is None or kb == kf:
        return False, None
    tree = ast.parse(buggy)
    around = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n.lineno <= line <= n.end_lineno]
    if not around:
        return False, None
    st = max(around, key=lambda n: (n.lineno, -n.end_lineno))
    if _statement(tree, st.lineno)[1] is None:
        return False, None
    return True, next((m for m in mutants(buggy, st.lineno, st.end_lineno, limit) if _key(m.text) == kf), None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", required=True, help="Folder of owner+name/repo git directories.")
    ap.add_argument("--project", action="append", required=True, help="owner+name, as in MIRROR (repeatable).")
    ap.add_argument("--commits", type=int, default=5000, help="How far back each history is read.")
    ap.add_argument("--all", action="store_true", help="Count commits that change no test too.")
    ap.add_argument("--limit", type=int, default=6, help="Mutants per statement (the probe's default: 6).")
    ap.add_argument("--json", action="store_true", help="Print one JSON object.")
    a = ap.parse_args(argv)
    repos = {p: Path(a.mirror) / p / "repo" for p in a.project}
    missing = [p for p, r in repos.items() if not r.is_dir()]
    if missing:
        print(f"error: no git directory at {repos[missing[0]]}", file=sys.stderr)
        return 2
    rows = {}
    for name, repo in repos.items():
        labels: Counter = Counter()
        fixes = shapes = 0
        for _sha, _path, buggy, fixed, line in one_line_fixes(repo, a.commits, tests=not a.all):
            counted, hit = undone(buggy, fixed, line, a.limit)
            fixes += counted
            if hit:
                labels[hit.label.split(": ", 1)[1]] += 1
                shapes += hit.shape
        rows[name] = {"fixes": fixes, "slips": sum(labels.values()) - shapes, "shapes": shapes,
                      "labels": dict(labels.most_common())}
    total = {k: sum(r[k] for r in rows.values()) for k in ("fixes", "slips", "shapes")}
    if a.json:
        print(json.dumps({"projects": rows, "total": total}))
        return 0
    print(f"{'project':40} {'fixes':>6} {'slips':>6} {'shapes':>7}")
    for name, r in list(rows.items()) + [("all", total)]:
        print(f"{name:40} {r['fixes']:>6} {r['slips']:>6} {r['shapes']:>7}")
    for name, r in rows.items():
        if r["labels"]:
            print(f"{name}: " + ", ".join(f"{lab} {n}" for lab, n in r["labels"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
