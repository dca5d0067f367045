"""`debugger data synth`: turn a project whose tests pass into validated bug records.

1. Run the suite once with per-test line coverage of every project file (the probe plugin).
2. Mutate each covered function (data/mutations.py).
3. Run only the tests that cover the mutated lines, with timeouts, in a per-worker scratch copy.
4. Keep mutants that make at least one of them fail with a real message; record everything.
Resumable: ids already written (or already rejected, in OUT.seen) are skipped.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from debugger.prompts import failure_text
from debugger.sandbox import remove_copy, scratch_copy
from debugger.testrun import default_command, run_tests

from .mutations import Mutant, mutate
from .schema import BugRecord, read_jsonl, write_jsonl

TEST_DIRS = {"tests", "test", "testing", "docs", "examples", "benchmarks"}


@dataclass
class SynthStats:
    project: str
    files: int = 0
    tried: int = 0
    kept: int = 0
    uncovered: int = 0
    survived: int = 0  # no covering test failed: equivalent or untested
    skipped: int = 0  # already in OUT or OUT.seen (resume)
    seconds: float = 0.0
    kinds: Counter = field(default_factory=Counter)


def is_source(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (name.endswith(".py") and not name.startswith("test_") and not name.endswith("_test.py")
            and name not in ("conftest.py", "setup.py", "noxfile.py") and not set(parts[:-1]) & TEST_DIRS)


def _coverage(report) -> dict[str, dict[int, set[str]]]:
    cov: dict[str, dict[int, set[str]]] = {}
    for nodeid in report.passing:
        for rel, lines in report.tests[nodeid].files.items():
            per = cov.setdefault(rel, {})
            for ln in lines:
                per.setdefault(ln, set()).add(nodeid)
    return cov


def synth(project: Path, out: Path, *, command: str | None = None, jobs: int = 2, per_kind: int = 1,
          max_mutants: int | None = None, timeout: float = 120, test_timeout: float = 10,
          name: str | None = None, version: str = "", license: str = "", plugin_autoload: bool = True,
          on_progress: Callable[[str, int, int], None] | None = None) -> SynthStats:
    root = project.resolve()
    command = command or default_command()
    stats = SynthStats(name or root.name)
    t0 = time.monotonic()
    # Installed pytest plugins (hypothesis, benchmark, ...) can cost a cold run 1-2 s of imports: a suite
    # known to pass without them runs every mutant ~3x faster. The baseline runs the same way.
    env = None if plugin_autoload else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    copy = scratch_copy(root)
    try:
        base = run_tests(copy, command, coverage_dir=True, timeout=max(timeout, 600), test_timeout=test_timeout,
                         extra_env=env)
    finally:
        remove_copy(copy)
    if not base.passing:
        raise ValueError(f"{root}: no passing tests under `{command}`; synth needs a green suite")
    cov = _coverage(base)

    seen_file = out.with_name(out.name + ".seen")
    done = {r.id for r in read_jsonl(out)} if out.exists() else set()
    rejected = set(seen_file.read_text().split()) if seen_file.exists() else set()
    jobs_list: list[tuple[str, str, Mutant, list[str]]] = []
    for rel in sorted(cov):
        if not is_source(rel) or not (root / rel).is_file():
            continue
        text = (root / rel).read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        stats.files += 1
        for m in mutate(text, per_kind=per_kind):
            n_orig = len(m.original_span.splitlines()) or 1
            covering = sorted({t for ln in range(m.start_line, m.start_line + n_orig) for t in cov[rel].get(ln, ())})
            if not covering:
                stats.uncovered += 1
                continue
            rid = BugRecord(stats.project, rel, m.buggy, text, 1, 0, "", [], "", "", m.kind).id
            if rid in done or rid in rejected:
                stats.skipped += 1
                continue
            jobs_list.append((rel, text, m, covering))
    if max_mutants is not None:
        # spread the budget over files and kinds rather than taking the first file's mutants
        jobs_list = sorted(jobs_list, key=lambda j: BugRecord(stats.project, j[0], j[2].buggy, "", 1, 0, "", [], "",
                                                              "", "").id)[:max_mutants]

    lock = threading.Lock()
    local = threading.local()
    copies: list[Path] = []
    progress = [0]

    def worker_copy() -> Path:
        if not hasattr(local, "copy"):
            local.copy = scratch_copy(root)
            with lock:
                copies.append(local.copy)
        return local.copy

    def one(job) -> None:
        rel, text, m, covering = job
        wc = worker_copy()
        target = wc / rel
        original = target.read_bytes()
        try:
            target.write_text(m.buggy, encoding="utf-8")
            rep = run_tests(wc, command, select=covering, timeout=timeout, test_timeout=test_timeout, extra_env=env)
        finally:
            target.write_bytes(original)
        failing = [t for t in rep.failing if t in covering]
        rec = BugRecord(
            project=stats.project, project_version=version, license=license, path=rel, buggy=m.buggy,
            fixed=text, start_line=m.start_line, end_line=m.end_line, fixed_span=m.original_span,
            failing_tests=failing, failure=failure_text(rep), test_command=command, bug_kind=m.kind,
            source="synthetic", provenance=json.dumps({"generator": "debugger data synth", "mutation": m.detail,
                                                       "function": m.function, "created": time.strftime("%Y-%m-%d")}))
        with lock:
            stats.tried += 1
            if failing and any(rep.tests[t].message.strip() for t in failing):
                write_jsonl(out, [rec], append=True)
                stats.kept += 1
                stats.kinds[m.kind] += 1
            else:
                stats.survived += 1
                with open(seen_file, "a") as f:
                    f.write(rec.id + "\n")
            progress[0] += 1
            if on_progress:
                on_progress(stats.project, progress[0], len(jobs_list))

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
            list(ex.map(one, jobs_list))
    finally:
        for c in copies:
            remove_copy(c)
    stats.seconds = round(time.monotonic() - t0, 1)
    return stats


def split_by_project(records: list[BugRecord], test_projects: set[str], valid_projects: set[str]) -> list[BugRecord]:
    """Splits are by source project: no project lands in two splits; test is held out for evaluation."""
    clash = test_projects & valid_projects
    if clash:
        raise ValueError(f"projects in both test and valid: {sorted(clash)}")
    for r in records:
        r.split = "test" if r.project in test_projects else "valid" if r.project in valid_projects else "train"
    return records


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)
