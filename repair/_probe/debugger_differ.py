"""The differential check's runner: each candidate's version of a module, called on the same inputs.

Run as `python debugger_differ.py SPEC OUT` in a scratch copy of the project, inside the sandbox; standard
library only. SPEC (JSON): {"file": path of the module, "module": its dotted name, "path": the directory to
put first on sys.path, "test_paths": directories of the test modules, put last, "candidates": {id: source
text}, "calls": {function: [repr of (args, kwargs)]}, "methods": {"Class.method": "method" | "class" |
"static"}, "pickles": [base64 pickles of {"self": instance, "args": {position: value}, "kwargs": {name:
value}}], "objects": {function: [per call, None or the index of the pickle that fills its holes]},
"call_timeout": seconds}. For each candidate the module is executed afresh from its text under its own
name, so relative imports resolve as in the project; then every listed function is called on every input
(a deep copy each time) and its doctests are run, with the examples its docstrings state in words
(`f(2) == 4`, `f(2) -> 4`, `f(2) returns 4`: a test named "NAME (stated)"). The objects a call held are unpickled afresh for each
call, after the candidate's module loaded (so objects of its classes are the candidate's; a method's
instance pickled under another module name is made so); a method is called on its instance, a
classmethod on the candidate's class. OUT (JSON):
{"results": {id: {function: [outcome per input]}}, "doctests": {id: {"attempted": examples, "failed": [names],
 "tests": [names of the docstrings with examples]}},
 "errors": {id: why the module did not load}}. An outcome is "= repr" (memory addresses blanked, an
iterator consumed), "! ExceptionType", "timeout" (after three of those a candidate's remaining calls are
not made), or "? why" where a call's recorded objects could not be rebuilt; "; args -> repr" is added when
the call changed its arguments, "; self -> repr" when a method changed its instance's attributes. Output the
candidates print is discarded; the project's modules a candidate imported ("root": the project's copy) are
forgotten before the next one loads.
"""
import ast
import base64
import copy
import doctest
import io
import json
import os
import pickle
import re
import reprlib
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
        text = _Plain().repr(value)
    except Exception as e:  # a broken __repr__ is an outcome too
        text = f"<repr failed: {type(e).__name__}>"
    return _ADDR.sub("", text)[:400]


class _Plain(reprlib.Repr):
    """repr, except that an object with the default repr shows its attributes: `Cart(prices=[0], paid=False)`
    where repr says `<shop.Cart object at 0x...>` for every cart."""
    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother, self.maxlong = 6, 400, 400, 400
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = self.maxdeque = 50

    def repr_instance(self, x, level):
        if type(x).__repr__ is object.__repr__ and isinstance(getattr(x, "__dict__", None), dict):
            if level <= 0:
                return f"{type(x).__qualname__}(...)"
            inner = ", ".join(f"{k}={self.repr1(v, level - 1)}" for k, v in list(vars(x).items())[:20])
            return f"{type(x).__qualname__}({inner})"
        return repr(x)


def _state(obj):
    try:
        return _show(vars(obj))
    except TypeError:  # no __dict__ (slots): its repr
        return _show(obj)


def _held(objects, limit):
    """The objects a recorded call held, rebuilt afresh: {"self", "args", "kwargs"}."""
    if not objects:
        return {"self": None, "args": {}, "kwargs": {}}
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return pickle.loads(base64.b64decode(objects))  # noqa: S301 - recorded by the tests, in the sandbox
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _bound(mod, name, kind, obj):
    """The callable for a function or method of the candidate's module: a method bound to the rebuilt
    instance (its class made the candidate's), a classmethod to the candidate's class."""
    if not kind:
        f = getattr(mod, name, None)
        if not callable(f):
            raise LookupError("missing")
        return f
    owner, _, meth = name.rpartition(".")
    cls = getattr(mod, owner, None)
    if not isinstance(cls, type) or meth not in vars(cls):
        raise LookupError("missing")
    raw = vars(cls)[meth]  # the candidate's own, even where a subclass of the tests overrides it
    if kind != "method":
        return raw.__get__(None, cls)
    if not isinstance(obj, cls):
        if type(obj).__qualname__ != cls.__qualname__:
            raise TypeError("the instance is of another class")
        obj.__class__ = cls  # pickled under another module name: the candidate's class all the same
    if isinstance(raw, property):
        return lambda: raw.fget(obj)
    return raw.__get__(obj, type(obj))


def _call(fn, call, limit, instance=None, held=None):
    args, kwargs = copy.deepcopy(call)
    if held:
        args = tuple(held["args"].get(i, a) for i, a in enumerate(args))
        kwargs = {k: held["kwargs"].get(k, v) for k, v in kwargs.items()}
    before = _show((args, kwargs))
    state = _state(instance) if instance is not None else None
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
    after = _show((args, kwargs))
    if after != before:
        outcome += "; args -> " + after[:200]
    if instance is not None and _state(instance) != state:
        outcome += "; self -> " + _state(instance)[:300]
    return outcome


def _replay(mod, fn, kind, objects, call, limit):
    try:
        held = _held(objects, limit)
        bound = _bound(mod, fn, kind, held["self"])
    except LookupError:
        return "! missing"
    except CallTimeout:
        return "? the recorded objects took too long to rebuild"
    except Exception as e:  # dropped from the comparison
        return f"? the recorded objects could not be rebuilt ({type(e).__name__})"
    return _call(bound, call, limit, held["self"] if kind == "method" else None, held)


def _load(name, file, text):
    mod = types.ModuleType(name)
    mod.__file__ = file
    mod.__package__ = name.rpartition(".")[0]
    sys.modules[name] = mod
    exec(compile(text, file, "exec"), mod.__dict__)  # noqa: S102 - candidate code, in the sandbox
    return mod


# what follows a call in a docstring that states its answer: `f(2) == 4`, `f(2) -> 4`, `f(2) returns 4`
_SAYS = re.compile(r"\s*(?:==|->|=>|\u279e|\u2192|returns|should return|gives)\s*", re.I)


def _literal(text, whole=True):
    """`text` if it is a Python literal (a bare `a, b` is a sentence's comma, not a tuple), else None."""
    try:
        node = ast.parse(text, mode="eval").body
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return None if isinstance(node, ast.Tuple) and not text.startswith("(") else text


def _stated(test):
    """The examples `test`'s docstring states in words, as doctest examples (`call == answer`): a call of the
    docstring's own function by its name, with literal arguments, then `==`, `->`, `returns` (...) and a literal,
    anywhere in a line (`... capitals too: vowels("Apple") == 2.`)."""
    own = test.name.rpartition(".")[2]
    found = []
    for i, line in enumerate((test.docstring or "").splitlines()):
        text = line.strip()[:400]
        if text.startswith((">>>", "...")):
            continue
        for m in re.finditer(r"(?<![\w.])" + re.escape(own) + r"\(", text):
            call = None
            for j in range(m.end(), len(text) + 1):  # the shortest text from the name on that is a call
                if text[j - 1] == ")":
                    try:
                        node = ast.parse(text[m.start():j], mode="eval").body
                    except SyntaxError:
                        continue
                    if isinstance(node, ast.Call):
                        call = text[m.start():j]
                    break
            if call is None or any(_literal(ast.unparse(a)) is None for a in node.args + [k.value for k in node.keywords]):
                continue
            says = _SAYS.match(text, m.start() + len(call))
            rest = text[says.end():].rstrip(".;,") if says else ""
            want = next((w for k in range(len(rest), 0, -1) if (w := _literal(rest[:k].rstrip(" .;,")))), None)
            if want:
                found.append(doctest.Example(f"{call} == {want}\n", "True\n", lineno=i))
    return found


def _doctests(mod, limit):
    """The module's doctests, and the examples its docstrings state in words (a test named "NAME (stated)")."""
    finder = doctest.DocTestFinder(exclude_empty=False)
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    attempted, failed, names = 0, [], []
    tests = []
    for test in finder.find(mod, mod.__name__, module=mod, globs=dict(mod.__dict__)):
        tests.append(test)
        stated = _stated(test)
        if stated:
            tests.append(doctest.DocTest(stated, dict(mod.__dict__), test.name + " (stated)", test.filename,
                                         test.lineno, test.docstring))
    for test in tests:
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
    sys.path += [d for d in spec.get("test_paths", []) if d not in sys.path]  # classes the tests define
    signal.signal(signal.SIGALRM, _alarm)
    limit = float(spec.get("call_timeout", 1.0))
    calls = {fn: [ast.literal_eval(c) for c in cs] for fn, cs in spec["calls"].items()}
    methods, objects, pickles = spec.get("methods", {}), spec.get("objects", {}), spec.get("pickles", [])
    out = {"results": {}, "doctests": {}, "errors": {}}
    real_out, real_err = sys.stdout, sys.stderr
    loaded = set(sys.modules)
    root = os.path.join(spec.get("root", spec["path"]), "")
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
                kind = methods.get(fn)
                res[fn] = []
                for j, c in enumerate(inputs):
                    # a candidate that hangs on three inputs is not given a limit's worth of time on every other
                    if hung >= 3:
                        outcome = "timeout"
                    else:
                        k = (objects.get(fn) or [None] * (j + 1))[j]
                        outcome = _replay(mod, fn, kind, None if k is None else pickles[k], c, limit)
                    hung += outcome == "timeout"
                    res[fn].append(outcome)
                sys.stdout.seek(0)
                sys.stdout.truncate()
            out["results"][cid] = res
            out["doctests"][cid] = _doctests(mod, limit)
        finally:
            sys.stdout, sys.stderr = real_out, real_err
            for name in set(sys.modules) - loaded:  # the project's and the tests' modules it imported are
                file = getattr(sys.modules[name], "__file__", None) or ""  # imported afresh for the next: a test's
                if name == spec["module"] or file.startswith(root):  # subclass must extend that one's class
                    del sys.modules[name]
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
