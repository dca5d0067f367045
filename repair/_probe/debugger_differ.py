"""The differential check's runner: each candidate's version of a module, called on the same inputs.

Run as `python debugger_differ.py SPEC OUT` in a scratch copy of the project, inside the sandbox; standard
library only. SPEC (JSON): {"file": path of the module, "module": its dotted name, "path": the directory to
put first on sys.path, "candidates": {id: source text}, "calls": {function: [repr of (args, kwargs)]},
"call_timeout": seconds}. For each candidate the module is executed afresh from its text under its own
name, so relative imports resolve as in the project; then every listed function is called on every input
(a deep copy each time) and its doctests are run. OUT (JSON):
{"results": {id: {function: [outcome per input]}}, "doctests": {id: {"attempted": examples, "failed": [names],
 "tests": [names of the docstrings with examples]}},
 "errors": {id: why the module did not load}}. An outcome is "= repr" (memory addresses blanked, an
iterator consumed), "! ExceptionType", or "timeout" (after three of those a candidate's remaining calls are
not made); "; args -> repr" is added when the call changed its
arguments. Output the candidates print is discarded.
"""
import ast
import copy
import doctest
import io
import json
import re
import signal
import sys
import types

_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


class CallTimeout(BaseException):
    """A call outlived its limit (BaseException: a candidate's `except Exception` must not swallow it)."""


def _alarm(signum, frame):
    raise CallTimeout()


def _show(value):
    if isinstance(value, types.GeneratorType) or (hasattr(value, "__next__") and hasattr(value, "__iter__")):
        items = []
        for i, x in enumerate(value):
            if i >= 1000:
                items.append("...")
                break
            items.append(x)
        value = items
    try:
        text = repr(value)
    except Exception as e:  # a broken __repr__ is an outcome too
        text = f"<repr failed: {type(e).__name__}>"
    return _ADDR.sub("", text)[:400]


def _call(fn, call, limit):
    args, kwargs = copy.deepcopy(call)
    before = repr((args, kwargs))
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        outcome = "= " + _show(fn(*args, **kwargs))
    except CallTimeout:
        return "timeout"
    except RecursionError:
        outcome = "! RecursionError"
    except Exception as e:
        outcome = "! " + type(e).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    after = repr((args, kwargs))
    if after != before:
        outcome += "; args -> " + _ADDR.sub("", after)[:200]
    return outcome


def _load(name, file, text):
    mod = types.ModuleType(name)
    mod.__file__ = file
    mod.__package__ = name.rpartition(".")[0]
    sys.modules[name] = mod
    exec(compile(text, file, "exec"), mod.__dict__)  # noqa: S102 - candidate code, in the sandbox
    return mod


def _doctests(mod, limit):
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    attempted, failed, names = 0, [], []
    for test in finder.find(mod, mod.__name__, module=mod, globs=dict(mod.__dict__)):
        if not test.examples:
            continue
        names.append(test.name)
        signal.setitimer(signal.ITIMER_REAL, limit * 5)
        try:
            r = runner.run(test, out=lambda s: None, clear_globs=True)
        except CallTimeout:
            failed.append(test.name + " (timeout)")
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        attempted += r.attempted
        if r.failed:
            failed.append(test.name)
    return {"attempted": attempted, "failed": failed, "tests": names}


def main(spec_path, out_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    sys.path.insert(0, spec["path"])
    signal.signal(signal.SIGALRM, _alarm)
    limit = float(spec.get("call_timeout", 1.0))
    calls = {fn: [ast.literal_eval(c) for c in cs] for fn, cs in spec["calls"].items()}
    out = {"results": {}, "doctests": {}, "errors": {}}
    real_out, real_err = sys.stdout, sys.stderr
    for cid, text in spec["candidates"].items():
        sys.stdout = sys.stderr = io.StringIO()
        try:
            try:
                mod = _load(spec["module"], spec["file"], text)
            except BaseException as e:  # noqa: BLE001 - SystemExit at import is a load failure too
                out["errors"][cid] = f"{type(e).__name__}: {e}"[:300]
                continue
            res, hung = {}, 0
            for fn, inputs in calls.items():
                f = getattr(mod, fn, None)
                res[fn] = []
                for c in inputs:
                    # a candidate that hangs on three inputs is not given a limit's worth of time on every other
                    outcome = "! missing" if not callable(f) else "timeout" if hung >= 3 else _call(f, c, limit)
                    hung += outcome == "timeout"
                    res[fn].append(outcome)
                sys.stdout.seek(0)
                sys.stdout.truncate()
            out["results"][cid] = res
            out["doctests"][cid] = _doctests(mod, limit)
        finally:
            sys.stdout, sys.stderr = real_out, real_err
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
