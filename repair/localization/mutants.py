"""Mutants of one statement: small, single-line edits of the kind bugs are made of.

Each keeps the file's line count, so every other line keeps its number (the probe swaps function code
objects compiled from the mutated file, and the tracebacks still point at the user's lines). Only
statements inside a function are mutated: module-level code ran at import, before the probe could
swap anything. Standard library only (`ast`).
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field

# an operator's likeliest slips first
CMP = {ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE),
       ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
       ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,)}
BIN = {ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.FloorDiv, ast.Add), ast.Div: (ast.Mult,),
       ast.FloorDiv: (ast.Div, ast.Mult), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,),
       ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,), ast.LShift: (ast.RShift,), ast.RShift: (ast.LShift,)}
# calls a slip confuses with their twin (mutation testing's method-call replacement)
TWINS = {"min": "max", "max": "min", "any": "all", "all": "any", "append": "extend", "extend": "append",
         "lower": "upper", "upper": "lower", "startswith": "endswith", "endswith": "startswith",
         "lstrip": "rstrip", "rstrip": "lstrip", "find": "rfind", "rfind": "find", "keys": "values",
         "values": "keys", "floor": "ceil", "ceil": "floor", "split": "rsplit", "rsplit": "split",
         "partition": "rpartition", "rpartition": "partition", "index": "rindex", "rindex": "index"}
SHAPE_TWINS = ("split", "rsplit", "partition", "rpartition", "index", "rindex")  # read off human fixes (_shapes)
# calls whose missing default turns "not there" into an error: the default a fix adds (`d.pop(k, None)`)
DEFAULTS = {"pop": 1, "getattr": 2, "next": 1}
CASE = ("startswith", "endswith")  # a string's own test that a fix makes case-blind on its receiver
DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Break, ast.Continue)
RECEIVERS = ("self", "cls")  # rarely the variable a slip put in another's place


def _statement(tree: ast.AST, start: int) -> tuple[ast.stmt | None, ast.AST | None]:
    """The statement that starts on line `start`, and the innermost function around it (None: module level)."""
    found: list = [None, None]

    def walk(node, fn) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt) and child.lineno == start and found[0] is None:
                found[:] = [child, fn]
            walk(child, child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else fn)
    walk(tree, None)
    return found[0], found[1]


def _local_names(fn: ast.AST) -> list[str]:
    """The function's parameters and the names it binds: those it never reads first (a read of the wrong
    variable leaves the right one unread), then the most read."""
    bound = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    bound |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    uses = [n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in bound]
    return sorted(bound, key=lambda x: (x in uses, x in RECEIVERS, -uses.count(x), x))


def _header_nodes(st: ast.stmt) -> list[ast.AST]:
    """The expressions of the statement itself, not of a body nested in it."""
    if isinstance(st, (ast.If, ast.While)):
        return [st.test]
    if isinstance(st, (ast.For, ast.AsyncFor)):
        return [st.iter]
    if isinstance(st, (ast.With, ast.AsyncWith)):
        return [i.context_expr for i in st.items]
    if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)):
        return []
    return [st]


def _inside_fstring(root: ast.AST) -> set[int]:
    # positions of nodes inside an f-string are not reliable before Python 3.12
    return {id(n) for j in ast.walk(root) if isinstance(j, ast.JoinedStr) for n in ast.walk(j)}


def _edits(node: ast.AST) -> list[tuple[int, str, ast.AST]]:
    """(tier, label, replacement node) for one expression node; tier 0: an operator's likeliest slip,
    tier 1: the less likely ones."""
    out: list[tuple[int, str, ast.AST]] = []
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        for i, op in enumerate(CMP.get(type(node.ops[0]), ())):
            out.append((min(i, 1), f"{_op(node.ops[0])} -> {_op(op())}",
                        ast.Compare(node.left, [op()], node.comparators)))
    elif isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Sub)) and isinstance(node.right, ast.Constant) \
                and node.right.value == 1 and type(node.right.value) is int:
            out.append((0, f"drop {_op(node.op)} 1", node.left))
        for i, op in enumerate(BIN.get(type(node.op), ())):
            out.append((min(i, 1), f"{_op(node.op)} -> {_op(op())}", ast.BinOp(node.left, op(), node.right)))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append((0, f"{_op(node.op)} -> {_op(other)}", ast.BoolOp(other, node.values)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        out.append((0, "drop " + ("not" if isinstance(node.op, ast.Not) else "minus"), node.operand))
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        out.append((0, f"{node.value} -> {not node.value}", ast.Constant(not node.value)))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        out += [(1, f"{node.value} -> {node.value + d}", ast.Constant(node.value + d)) for d in (1, -1)]
    elif isinstance(node, ast.Call):
        if len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
            args = [node.args[1], node.args[0], *node.args[2:]]
            out.append((0, "swap arguments", ast.Call(node.func, args, node.keywords)))
    return out


def _shapes(node: ast.AST, parent: ast.AST | None, line: str, params: set[str],
            callees: dict) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """(label, edits of the node's line) for the shapes of small human fixes that a slip above does not undo,
    found in one-line fixes that came with tests in other projects' histories (docs/localization.md): a truth
    test that meant `is not None`, a call that lacked its default (`d.pop(k, None)`), a comparison made
    case-blind (`x.lower() == "utf-8"`), a parameter of the function not passed on to a call that takes it by
    name (`generic_tags(warn=warn)`). An edit is (start, end, text) in UTF-8 byte columns: text put in, so the
    rest of the line stays as the user wrote it. `params`: the enclosing function's parameters; `callees`:
    name -> the parameters of the functions and methods the module defines."""
    out: list[tuple[str, list[tuple[int, int, str]]]] = []
    if not (node.lineno == node.end_lineno and isinstance(node, ast.expr)):
        return out
    value = (ast.Name, ast.Attribute, ast.Subscript)
    end = node.end_col_offset
    truth = isinstance(parent, (ast.If, ast.While, ast.Assert)) and node is parent.test or \
        isinstance(parent, ast.IfExp) and node is parent.test or isinstance(parent, ast.BoolOp)
    if truth and isinstance(node, value):
        out.append(("truth -> is not None", [(end, end, " is not None")]))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and isinstance(node.operand, value):
        o = node.operand
        out.append(("not x -> x is None", [(node.col_offset, o.col_offset, ""), (o.end_col_offset, end, " is None")]))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, value) and \
            isinstance(node.ops[0], (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
        right, at = node.comparators[0], node.left.end_col_offset
        if isinstance(right, ast.Constant) and isinstance(right.value, str):
            seg = line.encode("utf-8")[right.col_offset:right.end_col_offset].decode("utf-8")
            try:
                same = ast.literal_eval(seg.lower()) == right.value.lower()
            except (SyntaxError, ValueError):
                same = False
            if same:
                out.append(("compare lower-cased", [(at, at, ".lower()")] + (
                    [(right.col_offset, right.end_col_offset, seg.lower())] if seg != seg.lower() else [])))
        elif isinstance(right, value):
            out.append(("compare lower-cased", [(at, at, ".lower()")]))
    if isinstance(node, ast.Call) and not any(isinstance(a, ast.Starred) for a in node.args) and \
            not any(k.arg is None for k in node.keywords) and line.encode("utf-8")[end - 1:end] == b")":
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        close = end - 1
        if name in CASE and isinstance(f, ast.Attribute) and isinstance(f.value, value):
            out.append((f"{name} lower-cased", [(f.value.end_col_offset, f.value.end_col_offset, ".lower()")]))
        if name in DEFAULTS and len(node.args) == DEFAULTS[name] and not node.keywords and \
                isinstance(f, ast.Attribute) == (name == "pop"):
            out.append((f"{name} with default None", [(close, close, ", None")]))
        if name == "hasattr" and isinstance(f, ast.Name) and len(node.args) == 2 and not node.keywords:
            out.append(("hasattr -> getattr", [(f.col_offset, f.end_col_offset, "getattr"), (close, close, ", None")]))
        through = isinstance(f, ast.Name) or isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
            and f.value.id in RECEIVERS
        if through and name in callees:
            positional, named = callees[name]
            passed = {k.arg for k in node.keywords} | set(positional[:len(node.args)])
            for p in sorted(params & named - passed):
                sep = ", " if node.args or node.keywords else ""
                out.append((f"pass {p}={p}", [(close, close, f"{sep}{p}={p}")]))
    return out


def _callees(tree: ast.Module) -> dict[str, tuple[list[str], set[str]]]:
    """name -> (its positional parameters after self/cls, every parameter it takes by name) of the module's
    functions and of its classes' methods (a name defined twice keeps none: which one a call reaches is unknown)."""
    fn = (ast.FunctionDef, ast.AsyncFunctionDef)
    found: dict[str, tuple[list[str], set[str]] | None] = {}
    defs = [n for n in tree.body if isinstance(n, fn)] + \
        [m for c in tree.body if isinstance(c, ast.ClassDef) for m in c.body if isinstance(m, fn)]
    for d in defs:
        pos = [a.arg for a in d.args.posonlyargs + d.args.args]
        if pos[:1] and pos[0] in RECEIVERS:
            pos = pos[1:]
        named = {a.arg for a in d.args.args + d.args.kwonlyargs} - set(RECEIVERS)
        found[d.name] = None if d.name in found else (pos, named)
    return {k: v for k, v in found.items() if v is not None}


def _twin(node: ast.AST) -> str | None:
    """The name of a call that slips confuse with its twin (TWINS), or None."""
    if not isinstance(node, ast.Call):
        return None
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    return name if name in TWINS else None


def _op(op: ast.AST) -> str:
    return {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
            ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
            ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|",
            ast.LShift: "<<", ast.RShift: ">>", ast.And: "and", ast.Or: "or"}.get(type(op), type(op).__name__)


ATOMS = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.List, ast.Dict, ast.Set)
OPEN = (ast.stmt, ast.keyword, ast.List, ast.Set, ast.Dict, ast.Slice, ast.comprehension)


def _code(node: ast.AST, parent: ast.AST | None, repl: ast.AST, line: str) -> str:
    """The replacement's source, parenthesized only where the place it goes would bind it otherwise
    (a mutant doubles as a patch the user reads): checked by parsing the parent expression with it."""
    code = ast.unparse(repl)
    if isinstance(repl, ATOMS) or isinstance(repl, ast.Constant) and not (
            isinstance(repl.value, (int, float, complex)) and not isinstance(repl.value, bool) and repl.value < 0):
        return code
    if isinstance(parent, OPEN) or isinstance(parent, ast.Call) and node is not parent.func \
            or isinstance(parent, ast.Subscript) and node is parent.slice:
        return code
    if isinstance(parent, ast.expr) and parent.lineno == parent.end_lineno == node.lineno:
        b = line.encode("utf-8")
        seg = (b[parent.col_offset:node.col_offset] + code.encode("utf-8")
               + b[node.end_col_offset:parent.end_col_offset]).decode("utf-8")
        want = copy.copy(parent)
        for name, value in ast.iter_fields(parent):
            if value is node:
                setattr(want, name, repl)
            elif isinstance(value, list):
                setattr(want, name, [repl if v is node else v for v in value])
        try:
            if ast.dump(ast.parse(seg, mode="eval").body) == ast.dump(want):
                return code
        except SyntaxError:
            pass
    return f"({code})"


def _splice(line: str, col: int, end_col: int, text: str) -> str:
    b = line.encode("utf-8")  # ast columns are UTF-8 byte offsets
    return (b[:col] + text.encode("utf-8") + b[end_col:]).decode("utf-8")


@dataclass
class Mutant:
    """One mutant, from its making through the probe's run to a candidate patch: one line of the file
    edited inside one statement."""
    label: str  # "line 7: > -> >="
    line: int  # the edited line, 1-based
    new_line: str  # that line as mutated, newline kept
    text: str  # the whole file as mutated
    span: tuple[int, int]  # the statement mutated
    results: dict = field(default_factory=dict)  # once run: nodeid -> [outcome, message]
    seconds: float = 0.0
    shape: bool = False  # the shape of a human fix (_shapes), not a slip undone


def mutants(text: str, start: int, end: int, limit: int = 6) -> list[Mutant]:
    """Up to `limit` mutants of the statement spanning lines start..end, each one
    edit on one line: a negated condition, a swapped operator, a call swapped for its twin, a `+ 1`
    dropped, two arguments swapped, a variable read swapped for another, the shapes of human fixes
    (`_shapes`: `is not None` for a truth test, a default, a case-blind comparison, a parameter passed
    on), a constant off by one, and last the edits that only break (the statement deleted, `return None`).
    The probe runs few of them (its budget is one test run), so the ones likeliest to undo a bug come
    first: an undoing mutant is what ranks a statement first. Only mutants that still compile; none
    outside a function."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    st, fn = _statement(tree, start)
    if st is None or fn is None:
        return []
    lines = text.splitlines(keepends=True)
    seen = {text}

    def make(label: str, lineno: int, new_line: str, shape: bool = False) -> Mutant | None:
        new = "".join(lines[:lineno - 1]) + new_line + "".join(lines[lineno:])
        if new in seen:
            return None
        try:
            compile(new, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            return None
        seen.add(new)
        return Mutant(f"line {lineno}: {label}", lineno, new_line, new, (start, end), shape=shape)

    parents = {id(c): p for p in ast.walk(st) for c in ast.iter_child_nodes(p)}

    def replace(node: ast.AST, label: str, repl: ast.AST) -> Mutant | None:
        if node.lineno == node.end_lineno and start <= node.lineno <= end:
            ln = lines[node.lineno - 1]
            code = _code(node, parents.get(id(node)), repl, ln)
            return make(label, node.lineno, _splice(ln, node.col_offset, node.end_col_offset, code))
        return None

    one_line = st.lineno == st.end_lineno
    head, ops, names, last, shapes = [], [], [], [], []
    if isinstance(st, (ast.If, ast.While)) and st.test.lineno == st.test.end_lineno:
        t, ln = st.test, lines[st.test.lineno - 1]
        if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
            head.append(replace(t, "negate condition", t.operand))
        else:  # the condition as the user wrote it
            seg = ln.encode("utf-8")[t.col_offset:t.end_col_offset].decode("utf-8")
            head.append(make("negate condition", t.lineno, _splice(
                ln, t.col_offset, t.end_col_offset, f"not {seg}" if isinstance(t, ATOMS) else f"not ({seg})")))
    if isinstance(st, ast.AugAssign) and one_line:
        for op in BIN.get(type(st.op), ())[:1]:
            new = ast.AugAssign(st.target, op(), st.value)
            ops.append((0, make(f"{_op(st.op)}= -> {_op(op())}=", st.lineno,
                                _splice(lines[st.lineno - 1], st.col_offset, st.end_col_offset, ast.unparse(new)))))
    skip = set().union(*(_inside_fstring(h) for h in _header_nodes(st))) if _header_nodes(st) else set()
    local = _local_names(fn)
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs} - set(RECEIVERS)
    callees = _callees(tree)
    for root in _header_nodes(st):
        for node in ast.walk(root):
            if id(node) in skip or not hasattr(node, "lineno"):
                continue
            name = _twin(node)
            if name:  # the name alone replaced: the call's arguments stay as the user wrote them
                f = node.func
                ops.append((0, make(f"{name} -> {TWINS[name]}", f.end_lineno, _splice(
                    lines[f.end_lineno - 1], f.end_col_offset - len(name), f.end_col_offset, TWINS[name]),
                    shape=name in SHAPE_TWINS)))
            ops += [(tier, replace(node, label, repl)) for tier, label, repl in _edits(node)]
            if start <= getattr(node, "lineno", 0) <= end:
                ln = lines[node.lineno - 1]
                for label, edits in _shapes(node, parents.get(id(node)), ln, params, callees):
                    for a, b, put in sorted(edits, reverse=True):
                        ln = _splice(ln, a, b, put)
                    shapes.append(make(label, node.lineno, ln, shape=True))
                    ln = lines[node.lineno - 1]
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in local:
                other = next((x for x in local if x != node.id), None)
                if other is not None:  # each read swapped for the likeliest other; a receiver's last
                    names.append((node.id in RECEIVERS, replace(node, f"{node.id} -> {other}",
                                                                ast.Name(other, ast.Load()))))
    if isinstance(st, ast.Return) and st.value is not None:
        last.append(replace(st.value, "return None", ast.Constant(None)))
    if isinstance(st, DELETABLE) and one_line:
        last.append(make("delete statement", st.lineno, _splice(lines[st.lineno - 1], st.col_offset,
                                                                  st.end_col_offset, "pass")))
    ops = [m for _, m in sorted(ops, key=lambda x: x[0]) if m]  # stable: tier, then place in the statement
    names = [m for _, m in sorted(names, key=lambda x: x[0]) if m]
    slips = [m for pair in zip(ops, names) for m in pair]  # the two kinds alternate, so a small limit gets both
    slips += ops[len(names):] + names[len(ops):]
    # a fix's shape after the likeliest slip of each kind: on human-made bugs the shapes undo more than the later
    # slips do (docs/localization.md)
    found = [m for m in head if m] + slips[:2] + [m for m in shapes if m] + slips[2:] + [m for m in last if m]
    return found[:limit]


@dataclass
class MutationProbe:
    scores: dict  # (start, end) -> {"mutants": run, "kill": Metallaxis score, "fix": share of failing tests fixed}
    mutants: int = 0  # generated
    run: int = 0  # run before the budget ran out
    seconds: float = 0.0
    error: str = ""
    # each mutant run, in order, with its results; and the unmutated run's
    trace: list[Mutant] = field(default_factory=list)
    base: dict = field(default_factory=dict)
    base_seconds: float = 0.0


def _tests_for(report, start: int, end: int, failing: list[str], failing_max: int,
               passing_max: int) -> tuple[list[str], int]:
    """The tests a mutant of the statement is run against, and how many failing tests ran it. A mutant
    can change only a test that runs it: the failing tests that ran the statement (at most
    `failing_max`: a suite with 50 failing tests would spend the budget on a few mutants), and passing
    ones that ran it (they tell a mutant that breaks everything from one that touches only the failure)."""
    lines = set(range(start, end + 1))
    cover = [n for n in failing if lines & set(report.tests[n].lines)] or failing  # raised there, unrecorded
    ran = [n for n in report.passing if "::" in n and lines & set(report.tests[n].lines)]
    return cover[:failing_max] + ran[:passing_max], len(cover)


def score(base: dict, runs: list[tuple[dict, list[str], int]], failing: list[str]) -> dict:
    """`base`: nodeid -> [outcome, message] unmutated; `runs`: (results, tests, failing tests that ran the
    statement) per mutant of one statement. kill (Metallaxis): the failing tests a mutant changed
    (outcome or message) over the square root of all failing tests times every test it changed, best
    over the mutants; fix: the largest share of all failing tests a mutant makes pass while breaking
    none of the passing tests it ran. When only a sample of the failing tests that ran the statement
    was run, its share stands for all of them."""
    # every failing test still failing unmutated; one the base run left out ran none of the statements
    total = sum(base.get(n, ["failed"])[0] == "failed" for n in failing)
    kill = fix = 0.0
    n = 0
    for results, tests, cover in runs:
        fails = [f for f in tests if f in failing and base.get(f, ["passed"])[0] == "failed"]
        if not results or not fails:
            continue
        n += 1
        scale = cover / len(fails)
        fk = sum(results.get(f, base[f]) != base[f] for f in fails) * scale
        fixed = sum(results.get(f, ["failed"])[0] == "passed" for f in fails) * scale
        pk = sum(results.get(p, ["passed"])[0] == "failed" for p in tests
                 if p not in failing and base.get(p, ["failed"])[0] == "passed")
        if fk:
            kill = max(kill, min(1.0, fk / math.sqrt(total * (fk + pk))))
        if not pk:
            fix = max(fix, min(1.0, fixed / total))
    return {"mutants": n, "kill": kill, "fix": fix}


def probe(ws, src, report, stmts: list, *, budget: float | None = None, test_timeout: float | None = None,
          per_statement: int = 6, failing_max: int = 6, passing_max: int = 8, full: int | None = None) -> MutationProbe:
    """Mutate each of `stmts` (spans, best first) and rerun its tests in one pytest session in a scratch
    copy (repair/_probe/debugger_mutate.py): the failing tests, and passing ones that ran the statement.
    Mutants go round-robin over the first `full` statements (default localize.MUTANT_K), so a budget cut
    still reaches every one of them; the statements after those get their likeliest mutant only, run
    after the first two rounds (a bug ranked below the top is often undone by its first mutant).
    `budget`: seconds for the mutant loop; default the recording run's (`report.seconds`, at least one),
    so the probe costs about one more run of the relevant tests. Each test under a mutant gets
    `test_timeout` (default the workspace's probe_test_timeout: a mutant can make a loop that never ends)."""
    from .ranking import MUTANT_K
    t0 = time.monotonic()
    budget = max(1.0, report.seconds) if budget is None else budget
    full = MUTANT_K if full is None else full
    failing = [n for n in report.failing if "::" in n]
    per = [(s, mutants(src.text, s.start_line, s.end_line, per_statement if r < full else 1))
           for r, s in enumerate(stmts)]
    made = sum(len(m) for _, m in per)
    if not failing or not made:
        return MutationProbe({}, made, seconds=time.monotonic() - t0)
    order = []
    for i in range(per_statement):
        order += [(s, m[i]) for s, m in per[:full] if i < len(m)]
        if i == min(1, per_statement - 1):
            order += [(s, m[0]) for s, m in per[full:] if m]
    tests = {(s.start_line, s.end_line): _tests_for(report, s.start_line, s.end_line, failing, failing_max,
                                                     passing_max) for s, _ in per}
    test_timeout = ws.probe_test_timeout if test_timeout is None else test_timeout
    with ws.copy(src) as copy:
        work = copy.parent
        spec = {"target": str((copy / src.rel).resolve()), "out": str(work / "mutants.jsonl"), "budget": budget,
                "test_timeout": test_timeout,
                "mutants": [{"id": i, "text": m.text, "tests": tests[(s.start_line, s.end_line)][0]}
                            for i, (s, m) in enumerate(order)]}
        (work / "mutants.json").write_text(json.dumps(spec))
        select = sorted({n for m in spec["mutants"] for n in m["tests"]})
        rep = ws.tests(copy, select=select, test_timeout=test_timeout,
                       extra_env={"DEBUGGER_MUTANTS": str(work / "mutants.json")}, plugins=("debugger_mutate",))
        lines = [json.loads(x) for x in (work / "mutants.jsonl").read_text().splitlines()] \
            if (work / "mutants.jsonl").exists() else []
    first = next((x for x in lines if x.get("id") == "base"), {})
    base = first.get("results")
    if base is None:  # the plugin never got to run the tests: say why in one line
        said = [ln for ln in rep.output.splitlines() if "Error" in ln] or rep.output.strip().splitlines()
        return MutationProbe({}, made, 0, time.monotonic() - t0,
                             said[-1].strip()[:300] if said else "the mutation run wrote nothing")
    done = {x["id"]: x for x in lines if x.get("id") != "base"}
    runs: dict = {}
    trace = []
    for i, (s, m) in enumerate(order):
        if i in done:
            key = (s.start_line, s.end_line)
            runs.setdefault(key, []).append((done[i].get("results", {}), *tests[key]))
            trace.append(dataclasses.replace(m, span=key, results=done[i].get("results", {}),
                                             seconds=done[i].get("seconds", 0.0)))
    scores = {k: score(base, v, failing) for k, v in runs.items()}
    return MutationProbe(scores, made, len(done), time.monotonic() - t0, trace=trace, base=base,
                         base_seconds=first.get("seconds", 0.0))


def merged(a: MutationProbe, b: MutationProbe) -> MutationProbe:
    """Two probes of one test run as one: a statement both probed keeps the best of each score (each is a
    best over its mutants already); the runs are concatenated, the first's unmutated results kept."""
    scores = dict(a.scores)
    for k, v in b.scores.items():
        w = scores.get(k)
        scores[k] = v if w is None else {"mutants": w["mutants"] + v["mutants"], "kill": max(w["kill"], v["kill"]),
                                         "fix": max(w["fix"], v["fix"])}
    return MutationProbe(scores, a.mutants + b.mutants, a.run + b.run, a.seconds + b.seconds,
                         "; ".join(e for e in (a.error, b.error) if e), a.trace + b.trace, a.base or b.base,
                         a.base_seconds + b.base_seconds)


def undoing(m: MutationProbe, limit: int = 3) -> list[Mutant]:
    """The probe's mutants that made every failing test they ran pass and broke none of the passing
    ones they ran, in the order they ran. Each is a one-line patch worth validating before a model is
    asked for any."""
    out = []
    for x in m.trace:
        r = x.results
        fails = [n for n in r if m.base.get(n, ["passed"])[0] == "failed"]
        if not fails or any(r[n][0] != "passed" for n in fails) \
                or any(r[n][0] == "failed" for n in r if n not in fails) or "\n" in x.new_line.rstrip("\r\n"):
            continue
        out.append(x)
        if len(out) == limit:
            break
    return out
