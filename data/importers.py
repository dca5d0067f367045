"""Import public bug datasets into the record schema, with real test output from running them here.

  humanevalfix   JSONL rows {task_id, prompt|declaration, buggy_solution, canonical_solution, test,
                 entry_point, bug_type?}: the function is written to solution.py, its `check` test to
                 test_solution.py, and the buggy version is run for the failure.
  bugsinpy       a BugsInPy-style bug folder (bug.info with test_file, bug_patch.txt, run_test.sh)
                 plus a checkout of the buggy project: the patch gives the fixed file.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from debugger.prompts import failure_text
from debugger.testrun import default_command, run_tests

from .schema import BugRecord, span_between


def _failure(project: Path, command: str, test_timeout: float = 30) -> tuple[list[str], str]:
    work = Path(tempfile.mkdtemp(prefix="debugger-import-")) / "p"
    shutil.copytree(project, work, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    try:
        rep = run_tests(work, command, timeout=300, test_timeout=test_timeout)
        return rep.failing, failure_text(rep)
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)


def humanevalfix(path: Path, limit: int | None = None) -> Iterator[BugRecord]:
    command = default_command() + " -q test_solution.py"
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(ln) for ln in f if ln.strip()]
    for row in rows[:limit]:
        head = row.get("prompt") or row.get("declaration") or ""
        buggy, fixed = head + row["buggy_solution"], head + row["canonical_solution"]
        start, end, span = span_between(buggy, fixed)
        tmp = Path(tempfile.mkdtemp(prefix="debugger-hef-"))
        try:
            (tmp / "solution.py").write_text(buggy)
            (tmp / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
            (tmp / "test_solution.py").write_text(
                f"from solution import *\n\n{row['test']}\n\ndef test_check():\n    check({row['entry_point']})\n")
            failing, failure = _failure(tmp, command)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if not failing:
            continue  # the buggy solution passes here: not a usable record
        yield BugRecord(project="humanevalfix", path="solution.py", buggy=buggy, fixed=fixed, start_line=start,
                        end_line=end, fixed_span=span, failing_tests=failing, failure=failure,
                        test_command=command, bug_kind=row.get("bug_type") or "unknown",
                        source="import:humanevalfix", provenance=json.dumps({"task_id": row.get("task_id")}))


def _apply_patch(text: str, patch: str, rel: str) -> str:
    """Apply the hunks of a unified diff that touch `rel` (exact context required)."""
    lines = text.splitlines(keepends=True)
    out, pos = [], 0
    in_file = False
    hunks = []
    for ln in patch.splitlines(keepends=True):
        if ln.startswith("+++ "):
            in_file = ln[4:].strip().removeprefix("b/") == rel
        elif in_file and ln.startswith("@@"):
            m = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", ln)
            hunks.append([int(m.group(1)), []])
        elif in_file and hunks and ln[:1] in (" ", "-", "+"):
            hunks[-1][1].append(ln)
    if not hunks:
        raise ValueError(f"patch does not touch {rel}")
    for start, body in hunks:
        s = start - 1 if start > 0 else 0
        out += lines[pos:s]
        pos = s
        for h in body:
            if h[0] in " -":
                if pos >= len(lines) or lines[pos].rstrip("\r\n") != h[1:].rstrip("\r\n"):
                    raise ValueError(f"patch context does not match {rel} at line {pos + 1}")
                if h[0] == " ":
                    out.append(lines[pos])
                pos += 1
            else:
                out.append(h[1:] if h.endswith("\n") else h[1:] + "\n")
    return "".join(out + lines[pos:])


def bugsinpy(bug_dir: Path, checkout: Path, project: str = "", bug_id: str = "") -> BugRecord:
    info = dict(ln.split("=", 1) for ln in (bug_dir / "bug.info").read_text().splitlines() if "=" in ln)
    info = {k.strip(): v.strip().strip('"') for k, v in info.items()}
    patch = (bug_dir / "bug_patch.txt").read_text()
    files = [ln[4:].strip().removeprefix("b/") for ln in patch.splitlines() if ln.startswith("+++ ")]
    if len(files) != 1:
        raise ValueError(f"{bug_dir}: only single-file bugs are imported ({len(files)} files patched)")
    rel = files[0]
    buggy = (checkout / rel).read_text(encoding="utf-8")
    fixed = _apply_patch(buggy, patch, rel)
    start, end, span = span_between(buggy, fixed)
    script = (bug_dir / "run_test.sh").read_text().strip().splitlines() if (bug_dir / "run_test.sh").exists() else []
    command = next((ln for ln in script if ln.strip() and not ln.startswith("#")), None) \
        or f"{default_command()} {info.get('test_file', '')}"
    failing, failure = _failure(checkout, command)
    return BugRecord(project=project or bug_dir.parent.parent.name, path=rel, buggy=buggy, fixed=fixed,
                     start_line=start, end_line=end, fixed_span=span, failing_tests=failing, failure=failure,
                     test_command=command, bug_kind="real", source="import:bugsinpy",
                     provenance=json.dumps({"bug": bug_id or bug_dir.name, "buggy_commit": info.get("buggy_commit_id"),
                                            "fixed_commit": info.get("fixed_commit_id")}))
