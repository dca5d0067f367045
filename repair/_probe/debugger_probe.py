"""pytest plugin loaded into the user's test run via PYTEST_ADDOPTS="-p debugger_probe".

Standard library and pytest only, so it imports in any environment that runs pytest. Driven by:
  DEBUGGER_PROBE_OUT      JSON-lines file: one record per test (outcome, frames, lines run in the target)
  DEBUGGER_TARGET         absolute path of the file under repair; lines executed in it are recorded, per test,
                          and while the test modules are imported and collected (module-level code, class
                          bodies, decorators, tables built at import): those count as run by every test
  DEBUGGER_TARGET_DIR     absolute directory: lines executed in every file under it are recorded
  DEBUGGER_SELECT         file of node ids, in order: every other test is deselected
  DEBUGGER_FIRST          file of node ids run first, in order (the rest after them, as collected); if any of
                          them fails, the session stops when they are done
  DEBUGGER_EXITFIRST      "1": stop at the first failure
  DEBUGGER_TEST_TIMEOUT   seconds per test: then it fails with TestTimeout; if that cannot
                          stop it, every stack is dumped to OUT.hang and the process exits
  DEBUGGER_AFTER_HANG_TIMEOUT  seconds per test once a test has hung (default 3)
"""
import faulthandler
import json
import os
import signal
import sys
import threading

import pytest

_OUT = os.environ.get("DEBUGGER_PROBE_OUT")
_TARGET = os.environ.get("DEBUGGER_TARGET")
_TARGET_DIR = os.environ.get("DEBUGGER_TARGET_DIR")  # record every file under it (data synth)
_files = {}
_TIMEOUT = float(os.environ.get("DEBUGGER_TEST_TIMEOUT") or 0)
# After one test hung, the rest are probably stuck in the same loop: give them a shorter leash.
_AFTER_HANG = min(_TIMEOUT, float(os.environ.get("DEBUGGER_AFTER_HANG_TIMEOUT") or 3))
_hangs = 0
_MAX_TEXT = 4000
_lines = {}  # line -> when it last ran (a step count): a failing test's last lines are where it broke
_arcs = set()  # (from line, to line) in the target; 0 = entered the frame, -1 = left it
_step = [0]
_hang = None
_RECENT = 50
_STDLIB = os.path.dirname(os.__file__)
_PYTEST = os.sep + "_pytest" + os.sep
_imported = {"lines": set(), "arcs": set()}  # the target's lines run before the first test: imports, collection


def _called_by_pytest(frame):
    """A call pytest makes itself (repr of the values in a failed assert, report formatting): the
    target ran because the test already failed, which says nothing about where the bug is."""
    f = frame.f_back
    while f is not None:
        name = f.f_code.co_filename
        if name.startswith("<doctest"):
            return False
        if not (name.startswith("<") or (name.startswith(_STDLIB) and "site-packages" not in name)):
            return _PYTEST in name
        f = f.f_back
    return False


def _local_tracer():
    last = [0]

    def _local(frame, event, arg):
        if event == "line":
            ln = frame.f_lineno
            _step[0] += 1
            _lines[ln] = _step[0]
            _arcs.add((last[0], ln))
            last[0] = ln
        elif event == "return":
            _arcs.add((last[0], -1))
        return _local
    return _local


def _dir_local(frame, event, arg):
    if event == "line":
        _files.setdefault(frame.f_code.co_filename, set()).add(frame.f_lineno)
    return _dir_local


def _global(frame, event, arg):
    # the call event's line is the def line: not evidence, so only the local tracer records lines
    name = frame.f_code.co_filename
    if name == _TARGET:
        if _called_by_pytest(frame):
            return None
        return _local_tracer()  # one per call: an arc links lines of the same frame
    if _TARGET_DIR and name.startswith(_TARGET_DIR) and "site-packages" not in name:
        return _dir_local
    return None


def _trace_imports():
    """From the moment pytest loads this plugin (before the conftests and the test modules are imported) until
    collection ends, the target's lines are recorded as run at import."""
    if _TARGET:
        threading.settrace(_global)
        sys.settrace(_global)


_trace_imports()


def _headers():
    """The `def` and `class` lines of the target: at import every one of them runs, which says nothing of where
    a bug is (decorators, default values on lines of their own and class bodies do: they stay)."""
    import ast
    try:
        with open(_TARGET, "rb") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return set()
    return {n.lineno for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def pytest_collection_finish(session):
    if _TARGET:
        sys.settrace(None)
        threading.settrace(None)
        noise = _headers()
        _imported["lines"] = set(_lines) - noise
        _imported["arcs"] = {a for a in _arcs if not noise & set(a)}
        _lines.clear()
        _arcs.clear()


class TestTimeout(Exception):
    """Raised inside a test that outlived DEBUGGER_TEST_TIMEOUT."""


def _leash():
    return _AFTER_HANG if _hangs else _TIMEOUT


def _alarm(signum, frame):
    global _hangs
    limit = _leash()
    _hangs += 1
    raise TestTimeout(f"test timed out after {limit:g}s")


def pytest_configure(config):
    global _hang
    if _OUT and _TIMEOUT > 0:
        _hang = open(_OUT + ".hang", "w", encoding="utf-8")
    if os.environ.get("DEBUGGER_EXITFIRST") == "1":
        config.option.maxfail = 1


_selected_files = None


def _selected():
    """The files (relative to rootdir) of the selected node ids, or None when nothing is selected."""
    global _selected_files
    sel = os.environ.get("DEBUGGER_SELECT")
    if not sel:
        return None
    if _selected_files is None:
        with open(sel, encoding="utf-8") as f:
            _selected_files = {ln.strip().split("::")[0] for ln in f if ln.strip()}
    return _selected_files


def _ignore(collection_path, config):
    # Importing every test module of a big suite to run three tests costs more than running them:
    # modules holding no selected test are not collected at all.
    files = _selected()
    if files is None or collection_path.suffix != ".py" or collection_path.name == "conftest.py":
        return None
    try:
        rel = collection_path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return None
    return None if rel in files else True


if int(pytest.__version__.split(".")[0]) >= 7:  # older pytest passes py.path objects: no shortcut there
    def pytest_ignore_collect(collection_path, config):
        return _ignore(collection_path, config)


_first = {"left": set(), "failed": False}


def _run_first(items):
    with open(os.environ["DEBUGGER_FIRST"], encoding="utf-8") as f:
        order = {ln.strip(): i for i, ln in enumerate(f) if ln.strip()}
    first = sorted((it for it in items if it.nodeid in order), key=lambda it: order[it.nodeid])
    items[:] = first + [it for it in items if it.nodeid not in order]
    _first["left"] = {it.nodeid for it in first}


def pytest_collection_modifyitems(session, config, items):
    sel = os.environ.get("DEBUGGER_SELECT")
    if not sel:
        if os.environ.get("DEBUGGER_FIRST"):
            _run_first(items)
        return
    with open(sel, encoding="utf-8") as f:
        order = {ln.strip(): i for i, ln in enumerate(f) if ln.strip()}
    keep = sorted((it for it in items if it.nodeid in order), key=lambda it: order[it.nodeid])
    drop = [it for it in items if it.nodeid not in order]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if _hang is not None:
        _hang.seek(0)
        _hang.truncate()
        _hang.write("TEST " + item.nodeid + "\n")
        _hang.flush()
        # SIGALRM fails the test with a real traceback and lets the run go on; the faulthandler dump
        # is the backstop for code that swallows the exception or blocks signals.
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, _leash())
        faulthandler.dump_traceback_later(_TIMEOUT * 2 + 5, exit=True, file=_hang)
    item._debugger = {"nodeid": item.nodeid, "outcome": "passed", "frames": [], "message": ""}
    if _TARGET or _TARGET_DIR:
        _lines.clear()
        _arcs.clear()
        _files.clear()
        threading.settrace(_global)
        sys.settrace(_global)
    try:
        yield
    finally:
        if _TARGET or _TARGET_DIR:
            sys.settrace(None)
            threading.settrace(None)
        if _hang is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()
        rec = item._debugger
        rec["lines"] = sorted(set(_lines) | _imported["lines"]) if _TARGET else []
        rec["arcs"] = sorted(_arcs | _imported["arcs"]) if _TARGET else []
        if _TARGET and rec["outcome"] in ("failed", "error"):
            rec["recent"] = sorted(_lines, key=_lines.get)[-_RECENT:]  # oldest first
        if _TARGET_DIR:
            rec["files"] = {f: sorted(v) for f, v in _files.items()}
        if _OUT:
            with open(_OUT, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
        if item.nodeid in _first["left"]:
            _first["left"].discard(item.nodeid)
            _first["failed"] |= rec["outcome"] in ("failed", "error")
            if not _first["left"] and _first["failed"]:
                item.session.shouldstop = "debugger: a test run first still fails"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    rec = getattr(item, "_debugger", None)
    if rec is None or rec["outcome"] in ("failed", "error"):
        return
    if report.skipped and rec["outcome"] == "passed":
        rec["outcome"] = "skipped"
    if not report.failed:
        return
    rec["outcome"] = "failed" if call.when == "call" else "error"
    frames, tb = [], call.excinfo.tb if call.excinfo else None
    while tb is not None:
        frames.append({"file": tb.tb_frame.f_code.co_filename, "line": tb.tb_lineno,
                       "name": tb.tb_frame.f_code.co_name})
        tb = tb.tb_next
    rec["frames"] = frames[-40:]
    try:
        rec["message"] = call.excinfo.exconly()[:_MAX_TEXT] if call.excinfo else str(report.longrepr)[:_MAX_TEXT]
    except Exception:
        rec["message"] = repr(getattr(call.excinfo, "value", ""))[:_MAX_TEXT]
