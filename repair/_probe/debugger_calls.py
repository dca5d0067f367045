"""pytest plugin for the differential check: records the arguments the tests pass to some functions.

Loaded with "-p debugger_calls" beside debugger_probe; standard library only. Driven by DEBUGGER_CALLS, a
JSON file: {"target": abs path of the file under repair, "functions": [module-level function names and
"Class.method" names], "methods": {"Class.method": "method" | "class" | "static"}, "out": JSON-lines result
file, "limit": calls kept per function}. A profile hook sees every call of those functions and keeps the
calls, deduplicated, each as the repr of (args, kwargs) where every argument that is not a plain value
(numbers, strings, bytes, None, and lists, tuples, sets and dicts of them) is a hole (None, its position or
name in "holes"); the values in the holes and a method's instance ("self"; a classmethod's class is not
kept) are pickled as they were when the call began ("objects", base64 of {"self", "args": {position: value},
"kwargs": {name: value}}), for the differential check to rebuild in its sandbox. A call whose objects do not
pickle (a lock, a lambda, an open file) is skipped: it cannot be replayed outside the test that made it.
"""
import ast
import base64
import json
import os
import pickle
import sys
import threading
import time

_SPEC = os.environ.get("DEBUGGER_CALLS")
_PLAIN = (int, float, complex, str, bytes, bool, type(None))
_MAX_OBJECTS = 65536  # characters of pickled objects kept per call
_PICKLE_SECONDS = 1.0  # per function, then its calls with objects are no longer recorded


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
    methods = spec.get("methods", {})
    bare = {w.rpartition(".")[2]: w for w in wanted if "." in w}  # Python < 3.11: no co_qualname
    limit = int(spec.get("limit", 64))
    out = open(spec["out"], "a", encoding="utf-8")  # noqa: SIM115 - open for the session
    seen: dict = {name: set() for name in wanted}
    tries: dict = {name: 0 for name in wanted}  # calls looked at: a hot function is not pickled forever
    spent: dict = {name: 0.0 for name in wanted}  # seconds spent pickling its objects
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
        name = getattr(code, "co_qualname", None) or bare.get(code.co_name, code.co_name)
        if name not in wanted or not _is_target(code):
            return
        keep = seen[name]
        tries[name] += 1
        if len(keep) >= limit or tries[name] > 8 * limit:
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
            kind, instance = methods.get(name), None
            if kind in ("method", "class"):
                if not args:
                    return
                instance = args[0] if kind == "method" else None
                args = args[1:]
            # what is not a plain value (an object, the instance) is pickled as it is now, before the call's body
            # runs, and leaves a hole (None) in the call
            held = {"args": {i: v for i, v in enumerate(args) if not _plain(v)},
                    "kwargs": {k: v for k, v in kwargs.items() if not _plain(v)}}
            call = (tuple(None if i in held["args"] else v for i, v in enumerate(args)),
                    {k: None if k in held["kwargs"] else v for k, v in kwargs.items()})
            objects = None
            if kind == "method" or held["args"] or held["kwargs"]:
                if spent[name] > _PICKLE_SECONDS:  # big objects on a hot path: the tests are not slowed for them
                    return
                t0 = time.perf_counter()
                try:
                    objects = base64.b64encode(pickle.dumps(held | {"self": instance}, protocol=4)).decode()
                finally:
                    spent[name] += time.perf_counter() - t0
                if len(objects) > _MAX_OBJECTS:
                    return
            text = repr(call)
            if (text, objects) in keep or len(text) > 4000 or not _round_trips(text, call):
                return
            keep.add((text, objects))
            holes = list(held["args"]) + list(held["kwargs"])
            row = {"function": name, "call": text} | ({"objects": objects, "holes": holes} if objects else {})
            out.write(json.dumps(row) + "\n")
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
