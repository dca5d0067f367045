"""Bug records from a project's own git history: the slips its developers made and fixed, with the tests
they wrote for them.

A commit becomes a record when it changes exactly one source file and at least one test file (a fix that
came with its test). Both states are checked out of git into scratch folders: the commit as it is (the
fixed state) and the commit with that one file put back as its parent had it (the buggy state, so the new
tests and any data they read are the same in both). The changed tests run on each; the commit is kept when
some test passes on the fixed state and fails on the buggy one: that is a bug the tests catch, with its real
failure. Merges are skipped; so are fixes over `max_lines` changed lines (rewrites, not slips).

What it does not check: that the commit was meant as a fix (a feature with its tests is kept too when the
new tests fail without it); reading the commit message for "fix" is a weak filter, so the tests decide.
The project's tests run here like `data synth`'s do (in the sandbox `debugger fix` uses).
"""
from __future__ import annotations

import io
import json
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from debugger.prompts import failure_text
from debugger.testrun import default_command, run_tests

from .schema import BugRecord, span_between
from .synth import is_source


@dataclass
class HistoryStats:
    project: str
    commits: int = 0  # commits read (merges and the root commit included)
    candidates: int = 0  # commits changing one source file and some test file
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> commits
    seconds: float = 0.0


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _checkout(repo: Path, commit: str, dest: Path) -> None:
    """The tracked files of `commit` (no .git: the tests see a plain project)."""
    data = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")


def _show(repo: Path, commit: str, rel: str) -> str | None:
    r = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{rel}"], capture_output=True)
    if r.returncode:
        return None
    try:
        return r.stdout.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


def _is_test(rel: str) -> bool:
    name = Path(rel).name
    return name.startswith("test_") or name.endswith("_test.py")


def commits(repo: Path, rev: str = "HEAD", limit: int | None = None) -> list[tuple[str, list[str], str]]:
    """(commit, parents, subject), newest first."""
    args = ["log", "--format=%H %P%x00%s", rev] + ([f"--max-count={limit}"] if limit else [])
    out = []
    for line in _git(repo, *args).splitlines():
        shas, _, subject = line.partition("\0")
        commit, *parents = shas.split()
        out.append((commit, parents, subject))
    return out


def _changed(repo: Path, parent: str, commit: str) -> list[tuple[str, str]]:
    """(status, path) of the .py files the commit changed (renames show as delete + add)."""
    out = _git(repo, "diff", "--no-renames", "--name-status", parent, commit, "--", "*.py")
    return [(ln.split("\t")[0], ln.split("\t")[1]) for ln in out.splitlines() if "\t" in ln]


def mine(repo: Path, *, rev: str = "HEAD", limit: int | None = None, command: str | None = None,
         name: str | None = None, max_lines: int = 20, timeout: float = 300.0, test_timeout: float = 30.0,
         seen: set[str] = frozenset(), stats: HistoryStats | None = None, tasks: Path | None = None,
         on_progress: Callable[[int, int], None] | None = None, judged: dict[str, str] | None = None,
         on_judged: Callable[[str, str], None] | None = None) -> Iterator[BugRecord]:
    """Records from the commits of `rev` (newest first, at most `limit`). `command`: the pytest command
    the changed test files are appended to (default: pytest on this interpreter). `seen`: commits already
    recorded (a rerun skips them); `judged`: commits whose tests were run before and skipped, with why (a
    rerun counts them so, without running them again); `on_judged(commit, why)` hears of each such skip.
    `tasks`: also write each kept bug there as a `debugger eval` task (its visible test the failing tests,
    its hidden judge the fix's whole test modules; see _judge)."""
    repo = Path(repo).resolve()
    _git(repo, "rev-parse", "--git-dir")  # not a repository: CalledProcessError before any work
    stats = stats if stats is not None else HistoryStats(name or repo.name)
    base = command or default_command() + " -q"
    t0 = time.monotonic()
    todo = commits(repo, rev, limit)
    for i, (commit, parents, subject) in enumerate(todo):
        stats.commits += 1
        if on_progress:
            on_progress(i, len(todo))
        if len(parents) != 1:
            stats.skipped["merge or root"] += 1
            continue
        if commit in seen:
            stats.skipped["already recorded"] += 1
            continue
        changed = _changed(repo, parents[0], commit)
        tests = [p for s, p in changed if s != "D" and _is_test(p)]
        sources = [(s, p) for s, p in changed if is_source(p)]
        if not tests or len(sources) != 1 or sources[0][0] != "M":
            stats.skipped["not one source file changed with tests"] += 1
            continue
        stats.candidates += 1
        if judged and commit in judged:
            stats.skipped[judged[commit]] += 1
            continue
        rel = sources[0][1]
        buggy, fixed = _show(repo, parents[0], rel), _show(repo, commit, rel)
        if buggy is None or fixed is None:
            stats.skipped["unreadable file"] += 1
            continue
        start, end, span = span_between(buggy, fixed)
        if max(end - start + 1, len(span.splitlines())) > max_lines:
            stats.skipped[f"fix over {max_lines} lines"] += 1
            continue
        run = f"{base} {' '.join(shlex.quote(t) for t in tests)}"
        rec = BugRecord(project=stats.project, path=rel, buggy=buggy, fixed=fixed, start_line=start, end_line=end,
                        fixed_span=span, failing_tests=[], failure="", test_command=run,
                        bug_kind="history", source="history", project_version=commit[:12],
                        provenance=json.dumps({"generator": "data history", "commit": commit, "parent": parents[0],
                                               "subject": subject[:200], "tests": tests}))
        task = tasks / f"{stats.project}-{rec.id}" if tasks else None
        verdict = _judge(repo, commit, rel, buggy, run, base, task, [start, end], timeout, test_timeout)
        if isinstance(verdict, str):
            stats.skipped[verdict] += 1
            if on_judged:
                on_judged(commit, verdict)
            continue
        rec.failing_tests, rec.failure = verdict
        stats.kept += 1
        yield rec
    stats.seconds += round(time.monotonic() - t0, 1)
    if on_progress:
        on_progress(len(todo), len(todo))


def _judge(repo: Path, commit: str, rel: str, buggy: str, command: str, base: str, task: Path | None,
           fix_lines: list[int], timeout: float, test_timeout: float) -> tuple[list[str], str] | str:
    """(failing tests, failure) when the tests catch the bug; otherwise why not. `command` runs the test modules
    the fix changed: they must all pass on the fix, and some of their tests fail without it. With `task`, the
    buggy project is also written there as a `debugger eval` task (eval/tasks.py): the tool sees the failing
    tests alone (`base` with their ids, as a user names the test that fails), and the fix's whole test modules
    (`command`) are its hidden judge, which a wrong fix that passes the failing tests can still fail."""
    tmp = Path(tempfile.mkdtemp(prefix="debugger-history-"))
    try:
        work = tmp / "p"
        _checkout(repo, commit, work)
        after = run_tests(work, command, timeout=timeout, test_timeout=test_timeout)
        if not after.passing:
            return "tests do not pass on the fix"
        (work / rel).write_text(buggy, encoding="utf-8")
        before = run_tests(work, command, timeout=timeout, test_timeout=test_timeout)
        failing = [t for t in after.passing if t in before.failing]
        if not failing:
            return "no test fails without the fix"
        regressions = [t for t in before.passing if t in after.failing]
        if regressions:
            return "the fix breaks tests that passed"
        if task is not None:
            if not after.ok:
                return "the fix's test modules do not all pass on it"
            visible = f"{base} {' '.join(shlex.quote(t) for t in failing if '::' in t)}"
            if not all("::" in t for t in failing):  # a module that cannot import without the fix: the modules
                visible = command
            shutil.rmtree(task, ignore_errors=True)
            shutil.copytree(work, task / "task")
            (task / "task.json").write_text(json.dumps({
                "id": task.name, "file": rel, "test": visible, "judge": command, "bug_kind": "history",
                "fix_lines": fix_lines}, indent=2) + "\n")
        return failing, failure_text(before)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
