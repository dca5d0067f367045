"""The real-bug benchmark's recipe (eval/realbugs.py) on a history the test writes: bugs become tasks in their
project's split, each showing the failing test and judged by the fix's test modules; a rerun mines nothing twice."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from debugger.eval import realbugs
from debugger.eval.tasks import load_task
from debugger.testrun import run_tests

from fakes import CALC, CLAMP_TEST, TESTS, commit, git

pytestmark = pytest.mark.integration  # whole runs: training, eval, data builds (see conftest)


def test_the_manifest_names_pinned_projects_in_both_splits_and_no_blind_one():
    found = realbugs.projects()
    assert {p.split for p in found} == {"tune", "heldout"} and len(found) >= 10
    blind = {"ansible", "black", "cookiecutter", "fastapi", "httpie", "keras", "luigi", "matplotlib", "pandas",
             "pysnooper", "sanic", "scrapy", "spacy", "thefuck", "tornado", "tqdm", "youtube-dl", "quixbugs"}
    assert not {p.name.lower() for p in found} & blind
    assert not {p.repo.split("/")[1].lower() for p in found} & blind


def test_build_mines_a_history_into_split_tasks_and_resumes(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    repo = mirror / "someone+calc" / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    commit(repo, "first", {"calc.py": CALC, "tests/test_calc.py": TESTS, "pyproject.toml": "[project]\nname='calc'\n"})
    commit(repo, "clamp: the upper bound", {"calc.py": CALC.replace("min(x, lo)", "min(x, hi)"),
                                            "tests/test_calc.py": TESTS + CLAMP_TEST})
    commit(repo, "a comment, and a test that passed before", {
        "calc.py": CALC.replace("min(x, lo)", "min(x, hi)") + "# done\n",
        "tests/test_calc.py": TESTS + CLAMP_TEST + "\n\ndef test_more():\n    assert True\n"})
    manifest = tmp_path / "projects.toml"
    manifest.write_text('[[project]]\nname = "calc"\nrepo = "someone/calc"\nsplit = "heldout"\n'
                        'install = ["pytest==9.2.0"]\ncommits = 10\n')
    real = realbugs.projects
    monkeypatch.setattr(realbugs, "projects", lambda m=manifest: real(m))
    monkeypatch.setattr(realbugs, "environment", lambda p, out: Path(sys.executable))  # no venv to build here
    out = tmp_path / "out"
    [built] = realbugs.build(mirror, out)
    assert (built.project, built.split, built.kept) == ("calc", "heldout", 1)
    [task_dir] = (out / "tasks" / "heldout").iterdir()
    task = load_task(task_dir)
    assert task.test.endswith("tests/test_calc.py::test_clamp") and task.judge.endswith("tests/test_calc.py")
    assert run_tests(task.project, task.test).failing == ["tests/test_calc.py::test_clamp"]
    [rec] = [json.loads(ln) for ln in (out / "bugs.jsonl").read_text().splitlines()]
    assert json.loads(rec["provenance"])["split"] == "heldout"
    assert realbugs.summary(out) == {"heldout": {"bugs": 1, "projects": 1, "per_project": {"calc": 1}}}
    assert built.stats["skipped"] == {"merge or root": 1, "no test fails without the fix": 1}
    from debugger.data import history
    monkeypatch.setattr(history, "_judge", lambda *a: pytest.fail("a commit's tests ran again"))
    [again] = realbugs.build(mirror, out)  # resumable: each commit's tests run once, kept or not
    assert again.kept == 0 and again.stats["skipped"] == {"already recorded": 1, "merge or root": 1,
                                                          "no test fails without the fix": 1}
    with pytest.raises(ValueError, match="no such project"):
        realbugs.build(mirror, out, ["nope"])


def test_the_ci_smoke_task_fails_on_the_bug_and_its_upstream_fix_passes_the_judge(tmp_path):
    import shutil
    smoke = Path(realbugs.__file__).parent / "realbugs" / "smoke"
    [folder] = [d for d in smoke.iterdir() if d.is_dir()]
    task = load_task(folder)
    work = tmp_path / "task"
    shutil.copytree(task.project, work)
    env_cmd = lambda cmd: cmd.replace(" python ", f" {sys.executable} ")  # noqa: E731 - the environment's python
    assert run_tests(work, env_cmd(task.test)).failing
    (work / task.file).write_text((folder / "fixed.py").read_text())
    assert run_tests(work, env_cmd(task.test)).ok and run_tests(work, env_cmd(task.judge)).ok
