"""pytest plugin for the mutation probe: one session that reruns a few tests under each mutant.

Loaded with "-p debugger_mutate" beside debugger_probe; standard library and pytest only. Driven by
DEBUGGER_MUTANTS, a JSON file:
  {"target": abs path of the file under repair, "out": JSON-lines result file, "budget": seconds,
   "test_timeout": seconds per test, "mutants": [{"id": .., "text": the whole mutated file,
   "tests": [node ids]}, ...]}
The tests are collected once (select them with DEBUGGER_SELECT). The loop first runs every listed test
as it is, then each mutant: the mutated file is compiled and the `__code__` of every function of the
target module reachable from it (module globals, class attributes, decorators' `__wrapped__`, partials,
functions a decorator object holds in its instance dict) is
swapped for its mutated twin, the mutant's tests run (the failing ones first: when none of them changes,
the passing ones are skipped, as they could not move its score), and the code is put back. References the tests
already hold (`from mod import f`) see the mutant, and nothing is re-imported. One result line per run:
{"id": mutant id or "base", "results": {nodeid: [outcome, first line of pytest's crash message]},
 "seconds": the run's time}.
No test starts after `budget` seconds (a mutant cut short is dropped). A mutant that hangs a test fails
it by SIGALRM; one that blocks the signal is stopped by the caller's timeout of the whole run (the
lines written so far survive).
Not undone between mutants: state a mutant left behind outside the swapped code (a module-level dict
it filled, a file it wrote in the scratch copy); lru caches are cleared. Code the tests reach only
through a function made at run time (a closure factory's product) sees the mutant only if the factory
runs again. What this costs is a noisier score, never the user's files: it all runs in the scratch copy.
"""
import functools
import inspect
import json
import os
import signal
import sys
import time
import types

import pytest

_SPEC = os.environ.get("DEBUGGER_MUTANTS")
_LRU = type(functools.lru_cache()(lambda: None))


class MutantTimeout(Exception):
    """A test outlived the per-test limit under a mutant."""


def _alarm(signum, frame):
    raise MutantTimeout("test timed out under the mutant")


def _code_by_place(code, into):
    # qualname and first line: a module may define a name twice (toolz keeps the first `_check_sigspec` as
    # `_check_sigspec_orig`), and mutants keep every line where it was
    into[(code.co_qualname, code.co_firstlineno)] = code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_by_place(c, into)
    return into


def _instance_dict(obj):
    try:
        d = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001 - no instance dict (slots, builtins): nothing held there
        return {}
    return d if type(d) is dict else {}


def _functions(module, target):
    """Every function object of the module defined in `target`, and the caches to clear. Attributes are
    read statically: a lazy attribute (six's moved modules) must not import anything here."""
    funcs, caches, seen = [], [], set()

    def visit(obj, depth):
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if isinstance(obj, (staticmethod, classmethod)):
            visit(obj.__func__, depth + 1)
        elif isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                if f is not None:
                    visit(f, depth + 1)
        elif isinstance(obj, type):
            if getattr(obj, "__module__", None) == module.__name__:
                for v in list(vars(obj).values()):
                    visit(v, depth + 1)
        elif isinstance(obj, types.FunctionType):
            if obj.__code__.co_filename == target:
                funcs.append(obj)
        elif isinstance(obj, functools.partial):
            visit(obj.func, depth + 1)
        elif not isinstance(obj, types.ModuleType):
            # a decorator object (toolz's curry) keeps the function in its instance dict: read it
            # as stored, never through a property or __getattr__
            held = _instance_dict(obj)
            for v in list(held.values()):
                visit(v, depth + 1)
        if type(obj) is _LRU:
            caches.append(obj)
        wrapped = None if isinstance(obj, type) else inspect.getattr_static(obj, "__wrapped__", None)
        if wrapped is not None:
            visit(wrapped, depth + 1)

    for v in list(vars(module).values()):
        try:
            visit(v, 0)
        except Exception:  # noqa: BLE001 - an object that will not be looked at is one function fewer, no more
            continue
    return funcs, caches


def _modules(target):
    out = []
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None)
        if f and os.path.realpath(f) == target:
            out.append(m)
    return out


def _swap(funcs, text, target):
    """Put the mutant's code into the functions; return what to put back."""
    new = _code_by_place(compile(text, target, "exec"), {})
    old = []
    for f in funcs:
        c = new.get((f.__code__.co_qualname, f.__code__.co_firstlineno))
        if c is not None and c.co_freevars == f.__code__.co_freevars and c != f.__code__:
            old.append((f, f.__code__))
            f.__code__ = c
    return old


def _run(item, timeout):
    from _pytest.runner import runtestprotocol
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        reports = runtestprotocol(item, nextitem=None, log=False)
    except MutantTimeout:
        return ["failed", "timed out"]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    bad = [r for r in reports if r.failed]
    if not bad:
        return ["skipped" if any(r.skipped for r in reports) else "passed", ""]
    crash = getattr(bad[0].longrepr, "reprcrash", None)
    msg = crash.message if crash is not None else str(bad[0].longrepr)
    return ["failed", msg.strip().splitlines()[0][:300] if msg.strip() else ""]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    if not _SPEC:
        return None
    with open(_SPEC, encoding="utf-8") as f:
        spec = json.load(f)
    target = os.path.realpath(spec["target"])
    items = {it.nodeid: it for it in session.items}
    funcs, caches = [], []
    for m in _modules(target):
        fs, cs = _functions(m, target)
        funcs += fs
        caches += cs
    start, budget, timeout = time.monotonic(), float(spec["budget"]), float(spec["test_timeout"])
    wanted = sorted({n for m in spec["mutants"] for n in m["tests"] if n in items})
    with open(spec["out"], "a", encoding="utf-8") as out:
        base = {n: _run(items[n], timeout) for n in wanted}
        out.write(json.dumps({"id": "base", "functions": len(funcs), "results": base,
                              "seconds": round(time.monotonic() - start, 4)}) + "\n")
        out.flush()
        for m in spec["mutants"]:
            t0 = time.monotonic()
            if t0 - start > budget:
                break
            for c in caches:
                c.cache_clear()
            try:
                old = _swap(funcs, m["text"], target)
            except Exception as e:  # noqa: BLE001 - a mutant that does not compile is skipped, not fatal
                out.write(json.dumps({"id": m["id"], "error": repr(e)[:300]}) + "\n")
                continue
            try:  # a mutant no reachable function holds (a nested class, say) is not run at all
                results, cut = {}, False
                tests = [n for n in m["tests"] if n in items] if old else []
                failing = [n for n in tests if base[n][0] == "failed"]
                for n in failing + [n for n in tests if n not in failing]:
                    if time.monotonic() - start > budget:
                        cut = True
                        break
                    if n not in failing and all(results[f] == base[f] for f in failing):
                        break  # the failure is untouched: what the mutant does to passing tests tells nothing
                    results[n] = _run(items[n], timeout)
                if cut:
                    break  # out of time mid-mutant: half its tests say nothing
            finally:
                for f, code in old:
                    f.__code__ = code
                for c in caches:
                    c.cache_clear()
            out.write(json.dumps({"id": m["id"], "swapped": len(old), "results": results,
                                  "seconds": round(time.monotonic() - t0, 4)}) + "\n")
            out.flush()
    return True
