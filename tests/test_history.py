"""`debugger data history`: records from a git history the test writes, commit by commit."""
from __future__ import annotations

import json
import sys

import pytest

from debugger.data.history import HistoryStats, mine
from debugger.data.schema import read_jsonl

from fakes import CALC, CLAMP_TEST, TESTS, commit, git

pytestmark = pytest.mark.integration  # whole runs: training, eval, data builds (see conftest)

@pytest.fixture
def repo(tmp_path):
    """Six commits: the first; a real fix with its test (the one record); a feature with its tests (they cannot
    even import without it); docs only; a fix across two source files; a refactor whose test passes either way."""
    r = tmp_path / "calc"
    r.mkdir()
    git(r, "init", "-q")
    shas = {"first": commit(r, "first", {"calc.py": CALC, "tests/test_calc.py": TESTS, "pyproject.toml": "[project]\nname='calc'\n"})}
    shas["fix"] = commit(r, "clamp: the upper bound", {"calc.py": CALC.replace("min(x, lo)", "min(x, hi)"),
                                                       "tests/test_calc.py": TESTS + CLAMP_TEST})
    fixed = CALC.replace("min(x, lo)", "min(x, hi)")
    shas["feature"] = commit(r, "mul", {"calc.py": fixed + "\n\ndef mul(a, b):\n    return a * b\n",
                                        "tests/test_mul.py": "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"})
    shas["docs"] = commit(r, "docs", {"README.md": "calc\n"})
    shas["two"] = commit(r, "two files", {"util.py": "X = 1\n", "calc.py": fixed.replace("a + b", "b + a") +
                                          "\n\ndef mul(a, b):\n    return a * b\n",
                                          "tests/test_util.py": "from util import X\n\n\ndef test_x():\n    assert X == 1\n"})
    text = (r / "calc.py").read_text()
    shas["refactor"] = commit(r, "refactor", {"calc.py": text.replace("return b + a", "total = a + b\n    return total"),
                                              "tests/test_calc.py": TESTS + CLAMP_TEST + "\n\ndef test_add_zero():\n"
                                              "    assert add(0, 0) == 0\n"})
    return r, shas


def test_history_keeps_the_fix_its_tests_catch_and_says_why_it_skips_the_rest(repo):
    r, shas = repo
    stats = HistoryStats("calc")
    recs = list(mine(r, command=f"{sys.executable} -m pytest -q", stats=stats))
    assert [json.loads(x.provenance)["commit"] for x in recs] == [shas["fix"]]
    rec = recs[0]
    rec.check()  # buggy + fixed_span == fixed
    assert (rec.source, rec.bug_kind, rec.path, rec.start_line, rec.end_line) == ("history", "history", "calc.py", 6, 6)
    assert rec.fixed_span == "    return max(lo, min(x, hi))\n" and rec.failing_tests == ["tests/test_calc.py::test_clamp"]
    assert "assert 0 == 5" in rec.failure and rec.test_command.endswith("tests/test_calc.py")
    assert (stats.commits, stats.candidates, stats.kept) == (6, 3, 1)
    assert stats.skipped == {"merge or root": 1, "not one source file changed with tests": 2,
                             "no test fails without the fix": 2}


def test_the_command_appends_records_skips_what_it_has_and_refuses_bad_input(repo, tmp_path, cli):
    r, shas = repo
    out = tmp_path / "hist.jsonl"
    test = f"{sys.executable} -m pytest -q"
    code, stdout, _, _ = cli("data", "history", str(r), "--out", str(out), "--test", test)
    assert code == 0 and json.loads(stdout)["kept"] == 1
    assert [rec.source for rec in read_jsonl(out)] == ["history"]
    assert "| history | 1 |" in out.with_name("hist.README.md").read_text()  # the card counts by source
    code, stdout, _, _ = cli("data", "history", str(r), "--out", str(out), "--test", test)
    assert code == 0 and json.loads(stdout)["skipped"]["already recorded"] == 1 and len(list(read_jsonl(out))) == 1
    code, stdout, _, _ = cli("data", "history", str(r), "--out", str(tmp_path / "none.jsonl"), "--rev", shas["first"])
    assert code == 0 and json.loads(stdout)["kept"] == 0 and not (tmp_path / "none.jsonl").exists()
    code, _, stderr, _ = cli("data", "history", str(r), "--out", str(out), "--rev", "nosuchbranch")
    assert code == 2 and "no commits 'nosuchbranch'" in stderr
    code, _, stderr, _ = cli("data", "history", str(tmp_path / "nope"), "--out", str(out))
    assert code == 2 and "not a directory" in stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, stderr, _ = cli("data", "history", str(plain), "--out", str(out))
    assert code == 2 and "not a git repository" in stderr


def test_history_bugs_become_eval_tasks_the_failing_test_visible_the_fixs_modules_the_judge(repo, tmp_path):
    from debugger.eval.tasks import load_task
    from debugger.testrun import run_tests
    r, shas = repo
    command = f"{sys.executable} -m pytest -q"
    [rec] = mine(r, command=command, tasks=tmp_path / "bench")
    task = load_task(tmp_path / "bench" / f"calc-{rec.id}")
    assert (task.file, task.fix_lines, task.bug_kind) == ("calc.py", [6, 6], "history")
    assert task.test == f"{command} tests/test_calc.py::test_clamp" and task.judge == f"{command} tests/test_calc.py"
    assert (task.project / "calc.py").read_text() == rec.buggy and (task.project / "tests" / "test_mul.py").exists() is False
    assert run_tests(task.project, task.test).failing == ["tests/test_calc.py::test_clamp"]
    (task.project / "calc.py").write_text(rec.fixed)
    assert run_tests(task.project, task.judge).ok
