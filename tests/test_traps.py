"""The overfitting-trap benchmark (eval/traps): each task must be a trap in fact. Its visible tests fail
on the bug; the reference fix passes them and the hidden judge; a known wrong fix (trap.json "overfit")
passes the visible tests and fails the judge, so a tool that stops at "the tests pass" can be caught."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from debugger.eval import tasks

pytestmark = pytest.mark.integration  # whole runs: training, eval, data builds (see conftest)

TRAPS = Path(__file__).resolve().parents[1] / "eval" / "traps"
BENCH = tasks.load_bench(TRAPS)


def _run(cmd: str, cwd: Path) -> int:
    cmd = cmd.replace("python -m pytest", f"{sys.executable} -m pytest", 1)
    return subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}).returncode


def test_the_trap_benchmark_has_twenty_tasks_of_several_kinds():
    assert len(BENCH) >= 20
    kinds = {t.bug_kind for t in BENCH}
    assert {"trap:dropped_rule", "trap:boundary", "trap:tie_breaking", "trap:error_handling",
            "trap:special_case"} <= kinds


@pytest.mark.parametrize("task", BENCH, ids=[t.id for t in BENCH])
def test_each_trap_catches_a_fix_that_only_passes_the_visible_tests(task, tmp_path):
    spec = json.loads((task.dir / "trap.json").read_text())
    start, end = spec["span"]
    assert [start, end] == task.fix_lines

    def project(span: str | None) -> Path:
        where = tmp_path / (span and str(abs(hash(span))) or "bug")
        shutil.copytree(task.dir, where)
        if span is not None:
            f = where / "task" / task.file
            lines = f.read_text().splitlines(keepends=True)
            f.write_text("".join(lines[:start - 1]) + span + "".join(lines[end:]))
        return where / "task"
    bug, good, wrong = project(None), project(spec["fixed"]), project(spec["overfit"])
    assert _run(task.test, bug) == 1, "the visible tests must fail on the bug"
    assert _run(task.test, good) == 0 and _run(task.judge, good) == 0, "the reference fix must pass both"
    assert _run(task.test, wrong) == 0, "the wrong fix must pass the visible tests (a trap)"
    assert _run(task.judge, wrong) == 1, "and fail the hidden judge"
