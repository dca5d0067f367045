"""data/: mutation kinds, the equivalence filter, synth on a real tiny project, splits, loaders, importers."""
import ast
import json
import textwrap

import pytest

from conftest import FIXTURES, fixed
from debugger.data import format as fmt
from debugger.data import importers, mutations, schema, synth
from debugger.redact import redact

pytestmark = pytest.mark.integration  # whole runs: training, eval, data builds (see conftest)

CODE = textwrap.dedent('''\
    def stats(items, limit=10):
        """Docstring is never mutated."""
        total = 0
        seen = []
        for i in range(len(items)):
            if items[i] > limit and i != 0:
                continue
            total += items[i] * 2
            seen.append(items[i])
        while total >= 100:
            total = total - 1
            break
        if not seen:
            return None
        return max(seen) + min(total, limit)
    ''')


def spliced(m, original):
    lines = m.buggy.splitlines(keepends=True)
    return "".join(lines[:m.start_line - 1]) + m.original_span + "".join(lines[m.end_line:])


def test_every_kind_is_produced_and_reverses_exactly():
    ms = list(mutations.mutate(CODE, per_kind=50))
    assert {m.kind for m in ms} == set(mutations.KINDS)
    for m in ms:
        ast.parse(m.buggy)
        assert m.buggy != CODE and spliced(m, CODE) == CODE, m
        assert '"""Docstring' in m.buggy.splitlines()[1]


@pytest.mark.parametrize("kind,before,after", [
    ("comparison_swap", "if items[i] > limit", "if items[i] >= limit"),
    ("arithmetic_swap", "total += items[i] * 2", "total += items[i] + 2"),
    ("boolean_swap", "> limit and i != 0", "> limit or i != 0"),
    ("loop_boundary", "while total >= 100:", "while total > 100:"),
    ("off_by_one", "seen.append(items[i])", "seen.append(items[i + 1])"),
    ("negated_condition", "if not seen:", "if seen:"),
    ("negated_condition", "while total >= 100:", "while not (total >= 100):"),
    ("wrong_method", "seen.append(items[i])", "seen.extend(items[i])"),
    ("loop_control", "        break\n", "        continue\n"),
    ("wrong_return", "return None", None),
])
def test_kind_examples(kind, before, after):
    ms = [m for m in mutations.mutate(CODE, per_kind=50) if m.kind == kind]
    assert ms, kind
    if after:
        assert before in CODE
        assert any(m.buggy.count(after) > CODE.count(after) and m.buggy.count(before) < CODE.count(before)
                   for m in ms)


def test_equivalent_and_duplicate_mutants_are_dropped():
    code = "def f(x):\n    return g(x, x)\n"
    assert not [m for m in mutations.mutate(code, per_kind=50) if m.kind == "swapped_arguments"]
    ms = list(mutations.mutate(CODE, per_kind=50))
    assert len({m.buggy for m in ms}) == len(ms)


def test_synth_keeps_caught_mutants_with_real_tracebacks_and_resumes(project, tmp_path):
    root = project("calc")
    (root / "calc.py").write_bytes(fixed("calc").read_bytes())
    out = tmp_path / "bugs.jsonl"
    stats = synth.synth(root, out, jobs=2, per_kind=1, max_mutants=10, test_timeout=5)
    recs = list(schema.read_jsonl(out))
    assert stats.tried >= 5 and stats.kept == len(recs) >= 5 and stats.kept + stats.survived == stats.tried
    for r in recs:
        r.check()
        assert r.failing_tests and all(t.startswith("tests/test_calc.py::") for t in r.failing_tests)
        assert "assert" in r.failure or "Error" in r.failure
        assert r.path == "calc.py" and json.loads(r.provenance)["mutation"]
    again = synth.synth(root, out, jobs=2, per_kind=1, max_mutants=10)
    assert again.tried == 0 and again.skipped == stats.tried
    assert len(list(schema.read_jsonl(out))) == len(recs)


def test_synth_refuses_a_red_suite(project, tmp_path):
    root = project("calc")
    (root / "tests" / "test_calc.py").write_text("def test_x():\n    assert False\n")
    with pytest.raises(ValueError, match="no passing tests"):
        synth.synth(root, tmp_path / "b.jsonl")


def test_synth_without_plugin_autoload_runs_baseline_and_mutants_alike(project, tmp_path):
    # a suite that can tell: it passes only when pytest was told not to autoload plugins, so the
    # baseline would be red (and synth refuse) unless the setting reaches every run
    root = project("calc")
    (root / "calc.py").write_bytes(fixed("calc").read_bytes())
    (root / "tests" / "conftest.py").write_text(
        "import os\n\ndef pytest_configure(config):\n"
        "    assert os.environ.get('PYTEST_DISABLE_PLUGIN_AUTOLOAD') == '1'\n")
    with pytest.raises(ValueError, match="no passing tests"):
        synth.synth(root, tmp_path / "a.jsonl", max_mutants=2, test_timeout=5)
    stats = synth.synth(root, tmp_path / "b.jsonl", max_mutants=4, test_timeout=5, plugin_autoload=False)
    assert stats.kept >= 2


def _rec(project, kind="comparison_swap", **kw):
    buggy, fixed_ = "def f(a):\n    return a < 1\n", "def f(a):\n    return a <= 1\n"
    return schema.BugRecord(project=project, path="m.py", buggy=buggy + kw.pop("extra", ""),
                            fixed=fixed_ + "", start_line=2, end_line=2, fixed_span="    return a <= 1\n",
                            failing_tests=["t::x"], failure="assert False", test_command="pytest", bug_kind=kind, **kw)


def test_split_rule_and_loader(tmp_path):
    recs = [_rec("a"), _rec("b", extra="\n"), _rec("c", extra="\n\n")]
    synth.split_by_project(recs, {"c"}, {"b"})
    assert [r.split for r in recs] == ["train", "valid", "test"]
    with pytest.raises(ValueError):
        synth.split_by_project(recs, {"a"}, {"a"})
    path = tmp_path / "bugs.jsonl"
    schema.write_jsonl(path, recs)
    ds = schema.load(path)
    assert len(ds) == 3 and ds.features["failing_tests"].feature.dtype == "string"
    assert schema.load(path, split="test")["project"] == ["c"]
    card = schema.write_card(path, recs).read_text()
    assert "| comparison_swap | 3 |" in card and "| test | 1 |" in card
    assert "| project | comparison_swap |" in card and "| a | 1 |" in card  # kind per project


def test_span_between_and_check():
    s, e, span = schema.span_between("a\nb\nc\n", "a\nB\nB2\nc\n")
    assert (s, e, span) == (2, 2, "B\nB2\n")
    r = _rec("a")
    r.check()
    r.fixed_span = "nope\n"
    with pytest.raises(ValueError):
        r.check()


def test_secrets_are_redacted_on_disk(tmp_path):
    r = _rec("a")
    r.failure = 'E  token = "ghp_' + "a" * 36 + '"\nE  api_key="sk-' + "b" * 30 + '"\npassword = "hunter2hunter2"'
    path = tmp_path / "b.jsonl"
    schema.write_jsonl(path, [r])
    text = path.read_text()
    assert "ghp_" not in text and "sk-bbb" not in text and "hunter2" not in text and "<redacted>" in text
    assert redact("x = 1  # no secret here") == "x = 1  # no secret here"


def test_training_format_is_the_runtime_prompt():
    r = _rec("a")
    ex = fmt.to_example(r)
    from debugger import prompts
    assert ex["prompt"] == prompts.infill(r.buggy, 2, 2, r.failure).text
    assert ex["completion"] == "    return a <= 1\n<|endoftext|>"
    deletion = schema.BugRecord(project="a", path="m.py", buggy="def f(a):\n    return a\n",
                                fixed="def f(a):\n    a += 1\n    return a\n", start_line=2, end_line=1,
                                fixed_span="    a += 1\n", failing_tests=["t"], failure="x", test_command="pytest",
                                bug_kind="missing_statement")
    deletion.check()
    ex = fmt.to_example(deletion)
    assert ex["completion"] == "```python\ndef f(a):\n    a += 1\n    return a\n```"


def test_import_humanevalfix(tmp_path):
    rows = [
        {"task_id": "X/0", "prompt": "def add(a, b):\n", "buggy_solution": "    return a - b\n",
         "canonical_solution": "    return a + b\n", "entry_point": "add", "bug_type": "operator misuse",
         "test": "def check(f):\n    assert f(1, 2) == 3\n"},
        {"task_id": "X/1", "prompt": "def one():\n", "buggy_solution": "    return 1\n",
         "canonical_solution": "    return 1 \n", "entry_point": "one", "test": "def check(f):\n    assert f() == 1\n"},
    ]
    src = tmp_path / "hef.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recs = list(importers.humanevalfix(src))
    assert len(recs) == 1  # the second one's "buggy" version passes: dropped
    r = recs[0]
    r.check()
    assert r.bug_kind == "operator misuse" and r.failing_tests == ["test_solution.py::test_check"]
    assert "assert -1 == 3" in r.failure


def test_import_bugsinpy(tmp_path):
    bug = tmp_path / "projects" / "calc" / "bugs" / "1"
    bug.mkdir(parents=True)
    (bug / "bug.info").write_text('python_version="3.11"\nbuggy_commit_id="aaa"\nfixed_commit_id="bbb"\n'
                                  'test_file="tests/test_calc.py"\n')
    (bug / "bug_patch.txt").write_text("diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"
                                       "@@ -5,2 +5,2 @@\n def mul(a, b):\n-    return a + b\n+    return a * b\n")
    checkout = tmp_path / "checkout"
    import shutil
    shutil.copytree(FIXTURES / "calc", checkout)
    r = importers.bugsinpy(bug, checkout)
    r.check()
    assert r.fixed == fixed("calc").read_text() and (r.start_line, r.end_line) == (6, 6)
    assert r.project == "calc" and "tests/test_calc.py::test_mul" in r.failing_tests


def test_example_records_are_valid_and_held_out():
    from debugger.data import corpus
    recs = corpus.example_records()
    assert len(recs) >= 6
    for r in recs:
        r.check()
        assert r.failing_tests and r.failure
    assert "examples" in corpus.TEST_PROJECTS
    assert not corpus.TEST_PROJECTS & corpus.VALID_PROJECTS
    assert len(corpus.PROJECTS) >= 15 and len({p.name for p in corpus.PROJECTS}) == len(corpus.PROJECTS)


def test_corpus_build_goes_on_past_a_red_project_and_splits(project, tmp_path, monkeypatch):
    from debugger.data import corpus
    green, red = project("calc"), project("helper")
    (green / "calc.py").write_bytes(fixed("calc").read_bytes())
    for t in (red / "tests").glob("test_*.py"):  # nothing passes: synth refuses it
        t.write_text("def test_x():\n    assert False\n")
    roots = {"green": green, "red": red}
    monkeypatch.setattr(corpus, "PROJECTS", [corpus.Project("red", "1", "MIT", "python -m pytest -q"),
                                             corpus.Project("green", "1", "MIT", "python -m pytest -q")])
    monkeypatch.setattr(corpus, "fetch", lambda p, dest: roots[p.name])
    out = tmp_path / "bugs.jsonl"
    figures = corpus.build(out, jobs=1, max_per_project=3)
    assert "no passing tests" in figures["red"]["error"]
    assert figures["green"]["tried"] == 3 and figures["green"]["kept"] >= 1
    recs = list(schema.read_jsonl(out))
    assert {r.project for r in recs} == {"green", "examples"}
    assert {r.split for r in recs if r.project == "green"} == {"train"}
    assert {r.split for r in recs if r.project == "examples"} == {"test"}
    card = (tmp_path / "bugs.README.md").read_text()
    kept = figures["green"]["kept"]
    assert f"| green | 1 | MIT | train | {kept} | 3 | {kept} |" in card  # records, tried, kept per project
    assert "| red |" in card and "error: " in card and '"held_out"' in card
