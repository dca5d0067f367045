import textwrap
import pytest

from debugger.sandbox import remove_copy, scratch_copy
from debugger.testrun import default_command, run_tests


def make(tmp_path, code: str, tests: str):
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    (root / "mod.py").write_text(textwrap.dedent(code))
    (root / "tests" / "test_mod.py").write_text(textwrap.dedent(tests))
    return root


def run(root, **kw):
    copy = scratch_copy(root)
    try:
        return run_tests(copy, kw.pop("command", default_command()), **kw)
    finally:
        remove_copy(copy)


CODE = """
def inc(x):
    y = x + 2
    return y


def dec(x):
    return x - 1
"""
TESTS = """
from mod import dec, inc

def test_inc():
    assert inc(1) == 2

def test_dec():
    assert dec(1) == 0
"""


def test_outcomes_frames_and_lines(tmp_path):
    root = make(tmp_path, CODE, TESTS)
    rep = run(root, target="mod.py")
    assert rep.failing == ["tests/test_mod.py::test_inc"]
    assert rep.passing == ["tests/test_mod.py::test_dec"]
    inc = rep.tests["tests/test_mod.py::test_inc"]
    assert "assert 3 == 2" in inc.message
    # the module ran at import too, but its `def` lines say nothing of a bug: each test's own lines
    assert inc.lines == [3, 4] and rep.tests["tests/test_mod.py::test_dec"].lines == [8]
    # control flow too: entered at 3, on to 4, out (0 = frame entry, -1 = exit)
    assert inc.arcs == [(0, 3), (3, 4), (4, -1)]
    assert [f.file for f in inc.frames][-1] == "tests/test_mod.py"


def test_frames_inside_the_target(tmp_path):
    root = make(tmp_path, "def f(d):\n    return d['k']\n", "from mod import f\n\ndef test_f():\n    f({})\n")
    rep = run(root, target="mod.py")
    t = rep.tests["tests/test_mod.py::test_f"]
    assert ("mod.py", 2) in [(f.file, f.line) for f in t.frames]
    assert "KeyError" in t.message


@pytest.mark.integration
def test_hanging_test_fails_with_timeout_and_frames(tmp_path):
    code = "def spin():\n    while True:\n        pass\n"
    tests = "from mod import spin\n\ndef test_a():\n    spin()\n\ndef test_b():\n    spin()\n\ndef test_c():\n    pass\n"
    root = make(tmp_path, code, tests)
    rep = run(root, target="mod.py", test_timeout=1.5, timeout=60)
    assert set(rep.failing) == {"tests/test_mod.py::test_a", "tests/test_mod.py::test_b"}
    assert "timed out" in rep.tests["tests/test_mod.py::test_a"].message
    assert rep.passing == ["tests/test_mod.py::test_c"]
    assert any(f.file == "mod.py" for f in rep.tests["tests/test_mod.py::test_a"].frames)
    assert rep.seconds < 15


@pytest.mark.integration
def test_suite_timeout_kills_a_test_that_ignores_signals(tmp_path):
    code = "import signal, time\n\ndef stubborn():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(120)\n"
    tests = "from mod import stubborn\n\ndef test_s():\n    stubborn()\n"
    root = make(tmp_path, code, tests)
    rep = run(root, test_timeout=1, timeout=6)
    assert rep.failing and rep.seconds < 20
    assert "timed out" in rep.tests[rep.failing[0]].message


def test_collection_error_is_a_failing_test(tmp_path):
    root = make(tmp_path, "def f(:\n    pass\n", "from mod import f\n\ndef test_f():\n    f()\n")
    rep = run(root, target="mod.py")
    assert rep.failing == ["tests/test_mod.py"]
    assert "SyntaxError" in rep.tests["tests/test_mod.py"].message


def test_select_and_exitfirst(tmp_path):
    tests = TESTS + "\ndef test_inc_again():\n    assert inc(5) == 6\n"
    root = make(tmp_path, CODE, tests)
    rep = run(root, select=["tests/test_mod.py::test_inc_again", "tests/test_mod.py::test_inc"], exitfirst=True)
    assert list(rep.tests) == ["tests/test_mod.py::test_inc_again"]  # ran in the given order, stopped


def test_failing_tests_first_and_the_rest_only_if_they_pass(tmp_path):
    tests = TESTS + "\ndef test_inc_again():\n    assert inc(5) == 6\n"
    root = make(tmp_path, CODE, tests)
    first = ["tests/test_mod.py::test_inc_again", "tests/test_mod.py::test_inc"]
    rep = run(root, first=first)
    assert list(rep.tests) == first and rep.failing == first  # both ran, in that order; the rest did not
    fixed = make(tmp_path / "fixed", CODE.replace("x + 2", "x + 1"), tests)
    rep = run(fixed, first=first)
    assert list(rep.tests)[:2] == first and "tests/test_mod.py::test_dec" in rep.passing and not rep.failing


def test_a_regression_seen_out_of_order_is_checked_in_order(tmp_path):
    """A test that needs another to run before it fails when the failing tests are moved ahead of that one;
    the candidate did not break it: the suite in its own order says so."""
    from debugger.generate import Candidate
    from debugger.source import Edit, load
    from debugger.validate import validate
    from conftest import workspace
    code = "CALLS = []\n\n\ndef inc(x):\n    CALLS.append(x)\n    return x + 2\n"
    tests = ("import mod\n\n\ndef test_nothing_called_yet():\n    assert mod.CALLS == []\n\n\n"
             "def test_inc():\n    assert mod.inc(1) == 2\n")
    root = make(tmp_path, code, tests)
    before = run(root, target="mod.py")
    assert before.failing == ["tests/test_mod.py::test_inc"]
    fixed = code.replace("x + 2", "x + 1")
    src = load(str(root / "mod.py"))
    v = validate(workspace(root, timeout=60, test_timeout=5), src, Candidate(Edit(6, 6, "    return x + 1\n"), fixed,
                 "infill", "infill greedy @6-6", 3), fixed.encode(), before)
    assert v.plausible and not v.regressions and v.full_suite
    assert list(v.report.tests) == ["tests/test_mod.py::test_nothing_called_yet", "tests/test_mod.py::test_inc"]


def test_a_slow_suite_runs_the_failing_tests_alone_first(tmp_path, monkeypatch):
    """One session per candidate where the suite is quick or has no module but the failing tests': a slow one's
    failing tests run alone (only their modules collected), the suite after them where they pass."""
    import dataclasses
    from debugger.generate import Candidate
    from debugger.source import Edit, load
    from debugger.validate import ONE_SESSION_SECONDS, validate
    from debugger.workspace import Workspace
    from conftest import workspace
    root = make(tmp_path, CODE, TESTS)
    fixed = CODE.replace("x + 2", "x + 1")
    src, calls, tests = load(str(root / "mod.py")), [], Workspace.tests
    monkeypatch.setattr(Workspace, "tests", lambda self, copy, **k: calls.append(k) or tests(self, copy, **k))
    ws = workspace(root, timeout=60, test_timeout=5)
    root.joinpath("tests", "test_other.py").write_text("def test_other():\n    pass\n")  # a module more
    before = run(root, target="mod.py")
    for seconds, sessions in ((0.5, [{"first"}]), (ONE_SESSION_SECONDS + 1, [{"select"}, set()])):
        calls.clear()
        v = validate(ws, src, Candidate(Edit(3, 3, "    y = x + 1\n"), fixed, "infill", "infill greedy @3-3", 3),
                     fixed.encode(), dataclasses.replace(before, seconds=seconds))
        assert v.plausible and [set(k) & {"first", "select"} for k in calls] == sessions, calls
    root.joinpath("tests", "test_other.py").unlink()  # slow, but nothing to collect beyond the failing tests' module
    calls.clear()
    v = validate(ws, src, Candidate(Edit(3, 3, "    y = x + 1\n"), fixed, "infill", "infill greedy @3-3", 3),
                 fixed.encode(), dataclasses.replace(run(root, target="mod.py"), seconds=ONE_SESSION_SECONDS + 1))
    assert v.plausible and [set(k) & {"first", "select"} for k in calls] == [{"first"}], calls


def test_non_pytest_command(tmp_path):
    root = make(tmp_path, CODE, TESTS)
    rep = run(root, command="python3 -c 'import mod; assert mod.inc(1) == 2'", target="mod.py")
    assert rep.failing == ["<command>"]
    assert "AssertionError" in rep.tests["<command>"].message


def test_lines_pytest_runs_to_report_a_failure_are_not_evidence(tmp_path):
    # pytest calls __repr__ to show the values of a failed assert: that ran because the test had
    # already failed, so it must not count as "run by the failing test"; repr called by the test counts
    code = """
    class Money:
        def __init__(self, cents):
            self.cents = cents + 1

        def __eq__(self, other):
            return self.cents == other.cents

        def __repr__(self):
            return f"Money({self.cents})"
    """
    tests = """
    from mod import Money

    def test_eq():
        assert Money(1) == Money(2)

    def test_repr():
        assert repr(Money(1)) == "Money(2)"
    """
    root = make(tmp_path, code, tests)
    rep = run(root, target="mod.py")
    eq = rep.tests["tests/test_mod.py::test_eq"]
    assert eq.outcome == "failed" and "Money(" in eq.message  # pytest did call the repr
    assert 10 not in eq.lines and 7 in eq.lines
    assert 10 in rep.tests["tests/test_mod.py::test_repr"].lines
    assert eq.recent[-1] == 7  # the last target line the failing test ran


def test_node_ids_of_tests_parametrized_from_a_set_are_the_same_in_every_run(tmp_path, monkeypatch):
    """pytest numbers ids of non-scalar parameters by position, and a set of strings iterates in a
    per-process hash order: every run gets one seed, so the probe, the flaky check and validation find the
    tests the recording run named."""
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    tests = ("import pytest\nfrom mod import inc\n\n"
             "CASES = {" + ", ".join(f"('{w}', ({len(w) + 1},))" for w in ("a", "bb", "ccc", "dddd", "eeeee", "ffffff",
                                                                           "ggggggg", "hhhhhhhh")) + "}\n\n"
             "@pytest.mark.parametrize('word,expected', CASES)\n"
             "def test_len(word, expected):\n    assert inc(len(word)) - 1 == expected[0]\n")
    root = make(tmp_path, CODE, tests)
    runs = [list(run(root).tests) for _ in range(3)]
    assert len(runs[0]) == 8 and runs[0] == runs[1] == runs[2]


def test_lines_run_at_import_count_as_run_by_every_test(tmp_path):
    """A table or constant built when the module is imported: the failing test reads it and runs no line of the
    file itself, yet it ran at import, while pytest collected the test module."""
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    (root / "m.py").write_text("def double(x):\n    return 2 * x\n\n\nLIMIT = double(4)\n\n\nclass K:\n"
                               "    SIZE = LIMIT + 1\n")
    (root / "tests" / "test_m.py").write_text("from m import LIMIT, double\n\n\ndef test_limit():\n"
                                              "    assert LIMIT == 10\n\n\ndef test_double():\n    assert double(1) == 2\n")
    copy = scratch_copy(root)
    try:
        rep = run_tests(copy, default_command(), target="m.py")
    finally:
        remove_copy(copy)
    limit, dbl = rep.tests["tests/test_m.py::test_limit"], rep.tests["tests/test_m.py::test_double"]
    assert limit.outcome == "failed" and {2, 5, 9} <= set(limit.lines)  # at import: the call and the class body
    assert not {1, 8} & set(limit.lines)  # but not the `def` and `class` lines: every one of them runs at import
    assert set(limit.lines) <= set(dbl.lines) and limit.recent == []  # nothing of it ran during the test itself


@pytest.mark.integration
def test_a_bug_that_runs_at_import_is_repaired(tmp_path):
    """Before, such a repair stopped at once: "the failing tests never execute m.py"."""
    from debugger.config import FixConfig
    from debugger.pipeline import fix
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    buggy = "def double(x):\n    return 2 * x\n\n\nLIMIT = double(4)\n"
    (root / "m.py").write_text(buggy)
    (root / "tests" / "test_m.py").write_text("from m import LIMIT\n\n\ndef test_limit():\n    assert LIMIT == 10\n")
    fixed = tmp_path / "fixed.py"
    fixed.write_text(buggy.replace("double(4)", "double(5)"))
    result = fix(str(root / "m.py"), FixConfig(model=f"fake:{fixed}", select=0, budget=120, formats=["infill"]))
    assert result.status == "fixed" and "+LIMIT = double(5)" in result.diff, result.error


def test_a_plugin_the_project_never_names_is_not_loaded_in_its_sessions(tmp_path):
    """hypothesis's pytest plugin imports all of hypothesis at every session's end (~0.5 s): where the project
    never names hypothesis its sessions leave the plugin out; where it does, they keep it."""
    pytest.importorskip("hypothesis")
    from debugger.workspace import Workspace
    from debugger.testrun import idle_plugins
    check = """
    import sys

    def test_plugin():
        assert ("_hypo" "thesis_pytestplugin" in sys.modules) == WANT  # the file must not name it
    """
    root = make(tmp_path / "a", "X = 1\n", check.replace("WANT", "False"))
    env = root / "venv"  # a virtualenv inside the project is not the project's code
    (env / "lib").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /usr\n")
    (env / "lib" / "mod.py").write_text("import hypothesis\n")
    assert idle_plugins(root) == ("hypothesispytest",)
    ws = Workspace(root, default_command(), 60, 10, __import__("debugger.sandbox").sandbox.make_sandbox("auto"))
    assert ws.run(None).passing == ["tests/test_mod.py::test_plugin"]
    named = make(tmp_path / "b", "X = 1\n", check.replace("WANT", "True").replace("import sys", "import sys  # hypothesis"))
    assert idle_plugins(named) == ()
    ws = Workspace(named, default_command(), 60, 10, ws.sandbox)
    assert ws.run(None).passing == ["tests/test_mod.py::test_plugin"]
    assert run(root).failing == ["tests/test_mod.py::test_plugin"]  # run_tests alone blocks nothing
    assert idle_plugins(root, limit=1) == ()  # more files than it reads: nothing blocked
