"""The differential check: do the candidates that pass the tests behave the same off the tests' path?

Plausible candidates can all pass the visible tests and still differ (patch overfitting). This runs them
against each other: the tests run once more with a profile hook that records the calls they make to the
functions and methods the candidates change (`_probe/debugger_calls.py`): plain values (numbers, strings,
bytes, None and containers of them) as they are, a method's instance and every other argument pickled as
it was when the call began. Those calls and their neighbours (one plain argument at a time: numbers one off,
zero, the sign flipped; empty, shortened, reversed and extended strings and collections), and where asked
calls hypothesis makes like the plain ones (`generated`), are then made on each candidate's version of the
module in one sandboxed process (`_probe/debugger_differ.py`), each on fresh copies of its objects (a
method's instance made one of the candidate's class); what it returns and what it does to its arguments and
its instance are compared. It also runs the module's doctests. The pickles are opened only there, inside the
sandbox: this process passes them on unread. What it does not see: objects that do not pickle, methods of
nested classes, and state outside the call's objects that the tests set up.
"""
from __future__ import annotations

import ast
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .source import SourceFile
from .testrun import PROBE_DIR, TestReport

MAX_INPUTS = 120  # per function: the recorded calls first, then their neighbours
GENERATED = 40  # per function, beyond those: calls hypothesis makes like the recorded ones


@dataclass
class Disagreement:
    input: str  # the call, e.g. "page_count(0, 10)"
    results: dict[str, str]  # candidate id -> outcome ("= value", "! Error", "timeout")


@dataclass
class Comparison:
    functions: list[str] = field(default_factory=list)  # the module-level functions the candidates change
    recorded: int = 0  # distinct calls the tests made to them with plain values
    inputs: int = 0  # inputs every candidate ran on (recorded and neighbours, non-deterministic ones dropped)
    generated: int = 0  # of those, inputs hypothesis made like the recorded ones (compare's `generate`)
    classes: list[list[str]] = field(default_factory=list)  # candidate ids that behaved the same, largest first
    disagreements: list[Disagreement] = field(default_factory=list)  # a few inputs where they differ
    # id -> {"attempted": examples, "failed": [names], "tests": [names]}; "_original": the file as it was
    doctests: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # id -> why its module did not load
    # id -> calls on an edge value (0, empty, None) that no test made, where the file as it was returned and the
    # candidate answers otherwise, while it keeps the file's answers on most other untested neighbours: a local
    # fix that also moved an edge the tests never asked about (page_count(0, 10): 1 before, 0 after)
    edges: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str = ""  # why no input could be compared, if none could


def _functions(tree: ast.Module):
    """(name, def) for each module-level function and each method of a module-level class ("Class.method");
    a property's getter and setter share their name, so a name can come twice."""
    fn = (ast.FunctionDef, ast.AsyncFunctionDef)
    for n in tree.body:
        if isinstance(n, fn):
            yield n.name, n
        elif isinstance(n, ast.ClassDef):
            yield from ((f"{n.name}.{m.name}", m) for m in n.body if isinstance(m, fn))


def _defs(text: str) -> tuple[dict[str, str], str]:
    """Module-level functions and methods of module-level classes ("Class.method") -> their AST dump; and a
    dump of everything else (module-level code, class bodies without their methods)."""
    fn = (ast.FunctionDef, ast.AsyncFunctionDef)
    tree = ast.parse(text)
    defs: dict[str, str] = {}
    for name, node in _functions(tree):  # a property's getter and setter both count
        defs[name] = defs.get(name, "") + ast.dump(node)
    rest = []
    for n in tree.body:
        if isinstance(n, ast.ClassDef):
            rest += [f"class {n.name}"] + [ast.dump(x) for x in n.bases + n.keywords + n.decorator_list] + \
                [ast.dump(m) for m in n.body if not isinstance(m, fn)]
        elif not isinstance(n, fn):
            rest.append(ast.dump(n))
    return defs, "\n".join(rest)


def changed_functions(original: str, texts: list[str]) -> tuple[list[str], bool]:
    """Names of module-level functions and methods ("Class.method") whose code differs in some text; and
    whether an edit fell elsewhere (module-level code, a class body outside its methods), which the check
    cannot call."""
    try:
        base, base_rest = _defs(original)
    except SyntaxError:  # the bug is a syntax error: no function of the original to call
        return [], True
    names, elsewhere = [], False
    for t in texts:
        try:
            funcs, rest = _defs(t)
        except SyntaxError:
            continue
        names += [n for n, d in funcs.items() if base.get(n) != d and n not in names]
        elsewhere |= rest != base_rest
    return names, elsewhere


def _find(tree: ast.Module, name: str):
    """The def of a module-level function or of a method ("Class.method"), or None."""
    return next((node for n, node in _functions(tree) if n == name), None)


def method_kinds(text: str, names: list[str]) -> dict[str, str]:
    """For the methods among `names`: "method" (its first parameter the instance, recorded pickled), "class"
    (a classmethod: the candidate's class is passed) or "static"."""
    tree = ast.parse(text)
    kinds = {}
    for name in names:
        node = _find(tree, name) if "." in name else None
        if node is not None:
            decos = {ast.unparse(d) for d in node.decorator_list}
            kinds[name] = "static" if "staticmethod" in decos else "class" if "classmethod" in decos else "method"
    return kinds


def neighbours(call: tuple, floats: frozenset = frozenset()) -> list[tuple]:
    """Inputs near a recorded call: one argument at a time moved to a neighbouring value. `floats`: positions
    and names of parameters annotated `float`, whose whole-number values also get their half-way neighbours."""
    args, kwargs = call
    out = []

    def near(v, where=None):
        if isinstance(v, bool):
            return [not v]
        if isinstance(v, int):
            return [v - 1, v + 1, 0, -v, v * 2] + ([v - 0.5, v + 0.5] if where in floats else [])
        if isinstance(v, float):
            return [v - 0.5, v + 0.5, 0.0, -v, v * 2]
        if isinstance(v, str):
            return ["", v[:-1], v + v[-1:], v.upper(), v.lower(), v.title(), f" {v} ", v.replace(" ", "-"), v[::-1]]
        if isinstance(v, bytes):
            return [b"", v[:-1], v + v[-1:]]
        if isinstance(v, (list, tuple)):
            t = type(v)
            return [t(), t(v[:1]), t(v[:-1]), t(v[::-1]), t(list(v) + list(v[-1:]))]
        if isinstance(v, dict):
            return [{}, dict(list(v.items())[:-1])]
        if isinstance(v, (set, frozenset)):
            return [type(v)()]
        return []
    for i, a in enumerate(args):
        out += [(args[:i] + (n,) + args[i + 1:], kwargs) for n in near(a, i) if repr(n) != repr(a)]
    for k, a in kwargs.items():
        out += [(args, {**kwargs, k: n}) for n in near(a, k) if repr(n) != repr(a)]
    return out


def _like(v, optional: bool = False):
    """A hypothesis strategy for values like `v`: its type, sizes around its size, numbers around its magnitude,
    text from its own characters (and a few common ones), containers of elements like its elements; None too
    where `optional` (a parameter annotated Optional or `| None`). None where `v` is no plain value."""
    from hypothesis import strategies as st
    if isinstance(v, bool):
        s = st.booleans()
    elif isinstance(v, int):
        m = 2 * abs(v) + 10
        s = st.integers(-m, m)
    elif isinstance(v, float):
        m = 2 * abs(v) + 10
        s = st.floats(-m, m, allow_nan=False, allow_infinity=False)
    elif isinstance(v, str):
        s = st.text(st.sampled_from(sorted(set(v) | set("aZ0 -_."))), max_size=max(8, 2 * len(v)))
    elif isinstance(v, bytes):
        s = st.binary(max_size=max(8, 2 * len(v)))
    elif v is None:
        return st.none()
    elif isinstance(v, (list, tuple, set, frozenset)):
        kinds = [k for k in (_like(e) for e in list(v)[:4]) if k is not None]
        if len(kinds) < min(len(v), 4):
            return None
        each = st.one_of(kinds) if kinds else st.integers(-10, 10)
        size = max(6, 2 * len(v))
        if isinstance(v, (set, frozenset)):
            s = st.sets(each, max_size=size).map(type(v))
        else:
            s = st.lists(each, max_size=size).map(type(v))
    elif isinstance(v, dict):
        keys = [k for k in (_like(k) for k in list(v)[:4]) if k is not None]
        values = [k for k in (_like(x) for x in list(v.values())[:4]) if k is not None]
        if len(keys) < min(len(v), 4) or len(values) < min(len(v), 4):
            return None
        s = st.dictionaries(st.one_of(keys) if keys else st.text(max_size=4),
                            st.one_of(values) if values else st.integers(-10, 10), max_size=max(6, 2 * len(v)))
    else:
        return None
    return st.one_of(s, st.none()) if optional else s


def generated(recorded: list[str], held: list | None = None, n: int = GENERATED,
              optional: frozenset = frozenset()) -> list[str]:
    """Up to `n` calls hypothesis makes from strategies like the recorded calls' plain values (`_like`), a few
    recorded calls' shapes in turn, derandomized (the same calls every run): what no test and no one-step
    neighbour passes, such as ties and repeats in a list or a longer text. A call that passed objects (a hole
    in `held`) is not varied. `optional`: positions and names of parameters that may be None."""
    from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    from hypothesis.errors import HypothesisException
    held = held or [None] * len(recorded)
    shapes, seen = [], set()
    for call, h in zip(recorded, held):
        if h is not None:
            continue
        args, kwargs = ast.literal_eval(call)
        parts = [_like(a, i in optional) for i, a in enumerate(args)] + [_like(v, k in optional) for k, v in kwargs.items()]
        shape = tuple(type(a).__name__ for a in args) + tuple(sorted(kwargs))
        if shape in seen or any(p is None for p in parts):
            continue
        seen.add(shape)
        shapes.append(st.tuples(st.tuples(*parts[:len(args)]), st.fixed_dictionaries(dict(zip(kwargs, parts[len(args):])))))
        if len(shapes) == 4:
            break
    if not shapes or n <= 0:
        return []
    made: list[str] = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(shapes))
    def collect(call):
        made.append(repr(call))
    try:
        collect()
    except HypothesisException:
        pass
    return list(dict.fromkeys(made))[:n]


def _annotated(text: str, function: str, kind: str | None, says) -> frozenset:
    """Positions and names of the function's (or method's, "Class.method", counted after the instance or class)
    parameters whose annotation's text `says(text)` is true. `kind`: the method's (method_kinds), where known."""
    n = _find(ast.parse(text), function)
    if n is None:
        return frozenset()
    params = n.args.posonlyargs + n.args.args
    kind = kind or ("." in function and method_kinds(text, [function]).get(function)) or None
    if kind and kind != "static":
        params = params[1:]
    found = {(i, a.arg) for i, a in enumerate(params) if a.annotation is not None and says(ast.unparse(a.annotation))}
    found |= {(None, a.arg) for a in n.args.kwonlyargs if a.annotation is not None and says(ast.unparse(a.annotation))}
    return frozenset(x for pair in found for x in pair if x is not None)


def float_params(text: str, function: str, kind: str | None = None) -> frozenset:
    """Parameters annotated `float` (`_annotated`)."""
    return _annotated(text, function, kind, lambda t: "float" in t)


def optional_params(text: str, function: str, kind: str | None = None) -> frozenset:
    """Parameters annotated as possibly None (`Optional[...]`, `X | None`)."""
    return _annotated(text, function, kind, lambda t: "Optional" in t or "None" in t)


def _inputs(recorded: list[str], floats: frozenset = frozenset(), held: list | None = None) -> tuple[list, list]:
    """The recorded calls, then their neighbours, up to MAX_INPUTS; and for each, what the recording held of it
    (None, or the objects' pickle as text and the holes they fill), which a call's neighbours share: a hole
    is None, which has no neighbours, so it stays a hole."""
    calls = [ast.literal_eval(c) for c in recorded]
    held = held or [None] * len(calls)
    keys, out, owners = set(), [], []
    pairs = list(zip(calls, held)) + [(n, h) for c, h in zip(calls, held) for n in neighbours(c, floats)]
    for call, h in pairs:
        k = (repr(call), h and h[0])
        if k not in keys and len(out) < MAX_INPUTS:
            keys.add(k)
            out.append(k[0])
            owners.append(h)
    return out, owners


def _module(src: SourceFile) -> tuple[str, str]:
    """(directory to put on sys.path, relative to the root; the module's dotted name)."""
    parts = Path(src.rel).with_suffix("").parts
    top = len(parts) - 1  # the file's directory
    while top > 0 and (src.root / Path(*parts[:top]) / "__init__.py").exists():
        top -= 1
    return str(Path(*parts[:top])) if top else ".", ".".join(parts[top:])


def _test_paths(copy: Path, before: TestReport) -> list[str]:
    """Where pytest put the test modules on sys.path (the first folder above each without an __init__.py):
    objects of classes the tests define unpickle from there."""
    out = []
    for name in before.tests:
        d = (copy / name.split("::")[0]).parent
        while (d / "__init__.py").exists() and d != copy:
            d = d.parent
        if d.is_dir() and str(d.resolve()) not in out:
            out.append(str(d.resolve()))
    return out[:20]


def _python(command: str) -> str:
    """The interpreter the project's tests use, when the command says; else this one."""
    try:
        first = shlex.split(command)[0]
    except (ValueError, IndexError):
        return sys.executable
    name = os.path.basename(first)
    if name.startswith("python"):
        return first
    if name in ("pytest", "py.test") and os.path.isfile(os.path.join(os.path.dirname(first), "python")):
        return os.path.join(os.path.dirname(first), "python")
    return sys.executable


def _edge(call: str, holes: list = ()) -> bool:
    """Whether a call passes an edge value: zero, an empty string or container, None (not an object's hole)."""
    args, kwargs = ast.literal_eval(call)
    values = [v for i, v in enumerate(args) if i not in holes] + [v for k, v in kwargs.items() if k not in holes]
    return any(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0)
               or (isinstance(v, (str, bytes, list, tuple, dict, set, frozenset)) and len(v) == 0)
               for v in values)


def _call_text(function: str, call: str, holes: list = ()) -> str:
    """The call as a user reads it; an object the test passed shows as `<object>`."""
    args, kwargs = ast.literal_eval(call)
    shown = ["<object>" if i in holes else repr(a) for i, a in enumerate(args)] + \
        [f"{k}={'<object>' if k in holes else repr(v)}" for k, v in kwargs.items()]
    return f"{function}({', '.join(shown)})"


def compare(ws, src: SourceFile, candidates: dict[str, str], before: TestReport, *,
            call_timeout: float = 1.0, generate: int = 0) -> Comparison:
    """Run each candidate (id -> the whole file's text) on the recorded inputs and their neighbours, `generate`
    more per function made like them (`generated`), and the module's doctests. One candidate is run too: its
    answers are compared with the code's at the edges (the neighbours', not the generated inputs')."""
    t0 = time.monotonic()
    functions, elsewhere = changed_functions(src.text, list(candidates.values()))
    result = Comparison(functions=functions)
    with ws.copy(src) as copy:
        work = copy.parent
        calls: dict[str, list[str]] = {}
        held: dict[str, list] = {}  # per call: None, or (the pickled objects, passed on unread; their holes)
        kinds = method_kinds(src.text, functions) if functions else {}  # (none where the file does not parse)
        if functions:
            spans = _function_lines(src.text, functions)
            tests = [n for n, t in before.tests.items() if "::" in n and spans & set(t.lines)] or \
                [n for n in before.failing if "::" in n]
            spec = {"target": str((copy / src.rel).resolve()), "functions": functions, "methods": kinds,
                    "out": str(work / "calls.jsonl"), "limit": 64}
            (work / "calls.json").write_text(json.dumps(spec))
            ws.tests(copy, select=tests or None, plugins=("debugger_calls",),
                     extra_env={"DEBUGGER_CALLS": str(work / "calls.json")})
            if (work / "calls.jsonl").exists():
                for ln in (work / "calls.jsonl").read_text(encoding="utf-8").splitlines():
                    r = json.loads(ln)
                    calls.setdefault(r["function"], []).append(r["call"])
                    held.setdefault(r["function"], []).append((r["objects"], r["holes"]) if "objects" in r else None)
        result.recorded = sum(len(v) for v in calls.values())
        made = {fn: _inputs(cs, float_params(src.text, fn, kinds.get(fn)), held[fn]) for fn, cs in calls.items()}
        made_up: dict[str, set[str]] = {}  # per function: the generated calls
        for fn, cs in calls.items():
            have = set(made[fn][0])
            new = [c for c in generated(cs, held[fn], generate, optional_params(src.text, fn, kinds.get(fn)))
                   if c not in have] if generate else []
            made[fn][0].extend(new)
            made[fn][1].extend([None] * len(new))
            made_up[fn] = set(new)
        inputs = {fn: m[0] for fn, m in made.items()}
        ids = list(candidates)
        runs = dict(candidates)
        if ids:
            runs["_again"] = candidates[ids[0]]  # the first one twice: inputs it answers differently are noise
        runs["_original"] = src.text  # its doctests: one that fails everywhere, the original too, proves nothing
        path, module = _module(src)
        spec = {"file": str(copy / src.rel), "module": module, "path": str((copy / path).resolve()),
                "root": str(copy.resolve()), "test_paths": _test_paths(copy, before),
                "candidates": runs, "calls": inputs, "call_timeout": call_timeout, "methods": kinds,
                "pickles": list(dict.fromkeys(h[0] for m in made.values() for h in m[1] if h))}
        at = {s: i for i, s in enumerate(spec["pickles"])}  # a call's neighbours share its objects: each sent once
        spec["objects"] = {fn: [h and at[h[0]] for h in m[1]] for fn, m in made.items()}
        (work / "differ.json").write_text(json.dumps(spec))
        script = PROBE_DIR / "debugger_differ.py"
        cmd = " ".join(shlex.quote(a) for a in (_python(ws.command), str(script), str(work / "differ.json"),
                                                  str(work / "differ.out.json")))
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED") or "0")
        budget = 30.0 + len(runs) * sum(len(v) for v in inputs.values()) * 0.05
        ws.command_in(copy, cmd, env, budget)
        out_file = work / "differ.out.json"
        out = json.loads(out_file.read_text(encoding="utf-8")) if out_file.exists() else {}
    result.errors = {k: v for k, v in out.get("errors", {}).items() if k != "_again"}
    result.doctests = {k: v for k, v in out.get("doctests", {}).items() if k != "_again"}  # "_original" kept
    results = out.get("results", {})
    ran = [i for i in ids if i in results]
    if not out:
        result.skipped = "the check did not finish (time limit)"
    elif not functions:
        result.skipped = "the candidates change no function or method" if elsewhere else "nothing to compare"
    elif not inputs or not any(inputs.values()):
        result.skipped = "the tests' calls of " + ", ".join(functions) + " could not be recorded"
    vectors: dict[str, list[str]] = {i: [] for i in ran}
    again, before_fix = results.get("_again", {}), results.get("_original", {})
    moved: dict[str, list[str]] = {i: [] for i in ran}  # edge neighbours where the code returned, answered otherwise
    kept: dict[str, list[int]] = {i: [0, 0] for i in ran}  # other neighbours: [answered otherwise, kept the answer]
    for fn, cs in inputs.items():
        tested = {repr(ast.literal_eval(c)) for c in calls.get(fn, [])}
        for j, call in enumerate(cs):
            seen = {i: results[i].get(fn, [])[j] if j < len(results[i].get(fn, [])) else "missing" for i in ran}
            if ran and again.get(fn, [None] * (j + 1))[j] != seen[ran[0]]:
                continue  # the same code answered differently twice: time, randomness, hash order
            if any(s.startswith("? ") for s in seen.values()):
                continue  # the recorded objects could not be rebuilt
            result.inputs += 1
            result.generated += call in made_up[fn]
            for i in ran:
                vectors[i].append(seen[i])
            holes = (made[fn][1][j] or (None, []))[1]
            was = before_fix.get(fn, [])[j] if j < len(before_fix.get(fn, [])) else None
            if was is not None and call not in tested and call not in made_up[fn]:  # a neighbour: did the
                # candidate keep the code's answer?
                edge = _edge(call, holes)
                for i in ran:
                    if edge and was.startswith("= ") and seen[i] != was:
                        moved[i].append(_call_text(fn, call, holes))
                    elif not edge:
                        kept[i][seen[i] == was] += 1
            if len(set(seen.values())) > 1 and len(result.disagreements) < 5:
                result.disagreements.append(Disagreement(_call_text(fn, call, holes), seen))
    if inputs and any(inputs.values()) and not result.inputs and not result.skipped:
        result.skipped = "no recorded call of " + ", ".join(functions) + " could be replayed"
    # an edge's changed answer counts where the fix is otherwise local: it keeps the code's answers on most other
    # neighbours (a ceiling division changes page_count only at multiples, and at (0, 10)); a fix that changes
    # nearly every answer (`w + h` -> `w * h`) is a new behaviour whose edges changed with it
    result.edges = {i: moved[i] for i in ran if moved[i] and sum(kept[i]) >= 3 and 2 * kept[i][0] < sum(kept[i])}
    groups: dict[tuple, list[str]] = {}
    for i in ran:
        groups.setdefault(tuple(vectors[i]), []).append(i)
    result.classes = sorted(groups.values(), key=len, reverse=True) + [[i] for i in ids if i not in ran]
    result.seconds = round(time.monotonic() - t0, 2)
    return result


def _function_lines(text: str, names: list[str]) -> set[int]:
    tree = ast.parse(text)
    lines: set[int] = set()
    for name in names:
        n = _find(tree, name)
        if n is not None:
            lines.update(range(n.lineno, (n.end_lineno or n.lineno) + 1))
    return lines
