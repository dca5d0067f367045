"""pytest plugin for the differential check: records the arguments the tests pass to some functions.

Loaded with "-p debugger_calls" beside debugger_probe; standard library only. Driven by DEBUGGER_CALLS, a
JSON file: {"target": abs path of the file under repair, "functions": [top-level function names],
"out": JSON-lines result file, "limit": calls kept per function}. A profile hook sees every call of those
functions (the module-level ones: a method's `self` cannot be rebuilt elsewhere) and keeps the calls whose
arguments are plain values (numbers, strings, bytes, None, and lists, tuples, sets and dicts of them),
each as the repr of (args, kwargs), deduplicated. Calls with other values (objects, callables) are skipped:
they cannot be replayed outside the test that made them.
"""
import ast
import json
import os
import sys
import threading

_SPEC = os.environ.get("DEBUGGER_CALLS")
_PLAIN = (int, float, complex, str, bytes, bool, type(None))


def _plain(v, depth=0):
    if isinstance(v, _PLAIN):
        return True
    if depth > 4:
        return False
    if isinstance(v, (list, tuple, set, frozenset)) and type(v) in (list, tuple, set, frozenset):
        return len(v) <= 200 and all(_plain(x, depth + 1) for x in v)
    if type(v) is dict:
        return len(v) <= 200 and all(_plain(k, depth + 1) and _plain(x, depth + 1) for k, x in v.items())
    return False


def _round_trips(text, value):
    try:
        return ast.literal_eval(text) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


if _SPEC:
    with open(_SPEC, encoding="utf-8") as f:
        spec = json.load(f)
    target = os.path.realpath(spec["target"])
    wanted = set(spec["functions"])
    limit = int(spec.get("limit", 64))
    out = open(spec["out"], "a", encoding="utf-8")  # noqa: SIM115 - open for the session
    seen: dict = {name: set() for name in wanted}
    files: dict = {}

    def _is_target(code):
        real = files.get(code.co_filename)
        if real is None:
            real = files[code.co_filename] = os.path.realpath(code.co_filename)
        return real == target

    def _hook(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        name = code.co_name
        if name not in wanted or getattr(code, "co_qualname", name) != name or not _is_target(code):
            return
        keep = seen[name]
        if len(keep) >= limit:
            return
        try:
            loc = frame.f_locals
            n = code.co_argcount
            names = code.co_varnames[:n + code.co_kwonlyargcount]
            args = [loc[a] for a in names[:n]]
            kwargs = {a: loc[a] for a in names[n:]}
            i = n + code.co_kwonlyargcount
            if code.co_flags & 0x04:  # *args
                args += list(loc[code.co_varnames[i]])
                i += 1
            if code.co_flags & 0x08:  # **kwargs
                kwargs.update(loc[code.co_varnames[i]])
            call = (tuple(args), kwargs)
            if not _plain(call[0]) or not _plain(kwargs):
                return
            text = repr(call)
            if text in keep or len(text) > 4000 or not _round_trips(text, call):
                return
            keep.add(text)
            out.write(json.dumps({"function": name, "call": text}) + "\n")
            out.flush()
        except Exception:  # a frame that cannot be read is a call not recorded, never a test broken
            return

    def pytest_configure(config):
        sys.setprofile(_hook)
        threading.setprofile(_hook)

    def pytest_unconfigure(config):
        sys.setprofile(None)
        threading.setprofile(None)
        out.close()
