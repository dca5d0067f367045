"""Candidates that pass the tests but look like a trap: a static read of what a candidate changed.

Plausible is not correct, and some edits pass a failing test for the wrong reason often enough to be read as
suspect before anything runs. Two grades:

- `unreachable` (the patch screen refuses these): code made never to run — an empty range where the original
  loop ran (`range(0, n)` made `range(n, 0)`), a `while`/`if` whose condition became a false constant, a value
  compared with itself, a block wrapped in a new local function that nothing calls, a new `return` (`raise`,
  `break`, `continue`) with statements of its block after it. A loop that never runs passes a test that
  expected nothing to happen; an early return passes a test of the value it returns.
- `suspicions` (the choice ranks such candidates below the others, and a suspect fix is never called high):
  a dropped `raise`, `return`, `break` or `continue`; a deleted statement; a condition negated; a special case
  of a literal the failing tests use (`if x == 1337`); an edit to a docstring or a comment line. Each is a
  real fix now and then, so they are said, not refused.

It reads the lines a candidate changed (the edit's region in the original and in the candidate), not what
they mean.
"""
from __future__ import annotations

import ast
import re

from .edits import comments

FLOW = {ast.Raise: "raise", ast.Return: "return", ast.Break: "break", ast.Continue: "continue"}
# what takes code out of the flow (a dropped `raise` passes a test that wanted no error as easily as a fix
# does): offered as a fix only with three sources behind it (pipeline.unsupported)
FLOW_TRAPS = {"drop"}  # (a statement count falls too where `while True: pass` becomes `return x`: not one)
TRIVIAL = {0, 1, -1, 2, "", None}  # (True and False are 1 and 0)
_LITERAL = re.compile(r"""(?<![\w.])(-?\d+(?:\.\d+)?)(?![\w.])|'([^'\n]{1,60})'|"([^"\n]{1,60})\"""")


class Suspicion(str):
    """One reason a candidate reads like a trap: the sentence a user reads, with its `kind` (drop, delete,
    negate, special-case, docstring, comment) for the rules that weigh it."""
    kind: str

    def __new__(cls, kind: str, text: str):
        s = super().__new__(cls, text)
        s.kind = kind
        return s

    def __getnewargs__(self):  # copies and pickles (a candidate's verdict is copied) make it the same way
        return self.kind, str(self)


def _region(tree: ast.AST, lo: int, hi: int) -> list[ast.AST]:
    """The nodes that start on lines lo..hi."""
    return [n for n in ast.walk(tree) if lo <= getattr(n, "lineno", 0) <= hi]


def _parse(text: str) -> ast.AST | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _empty_range(call: ast.Call) -> bool:
    """range(...) with constant bounds that make it empty, or range(x, 0) (empty for every x >= 0)."""
    if not (isinstance(call.func, ast.Name) and call.func.id == "range") or call.keywords or len(call.args) > 2:
        return False
    args = call.args
    const = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, int) else None for a in args]
    if len(args) == 1:
        return const[0] is not None and const[0] <= 0
    if const[0] is not None and const[1] is not None:
        return const[0] >= const[1]
    return const[1] == 0 and not (isinstance(args[0], ast.UnaryOp) and isinstance(args[0].op, ast.USub))


def _constant_test(node: ast.AST) -> bool:
    """A condition that is always false (`while False`, `if 0`), or a value compared with itself: a branch made
    never to run. (`while True` is how loops that break are written: not this.)"""
    test = getattr(node, "test", None)
    if isinstance(test, ast.Constant):
        return not test.value
    return isinstance(test, ast.Compare) and len(test.ops) == 1 and \
        ast.dump(test.left) == ast.dump(test.comparators[0]) and not isinstance(test.left, ast.Call)


def _cut_short(tree: ast.AST, lo: int, hi: int) -> list[ast.stmt]:
    """The `return`, `raise`, `break` and `continue` statements on lines lo..hi that statements of their own
    block follow (those never run)."""
    out = []
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list):
                out += [s for s, after in zip(block, block[1:]) if isinstance(s, tuple(FLOW))
                        and lo <= s.lineno <= hi and isinstance(after, ast.stmt)]
    return out


def unreachable(original: str, new: str, start: int, end: int, new_lines: int) -> list[str]:
    """Why the candidate's changed lines make code that never runs (empty: they do not)."""
    old_tree, new_tree = _parse(original), _parse(new)
    if new_tree is None:
        return []
    old = _region(old_tree, start, end) if old_tree is not None else []
    added = _region(new_tree, start, start + new_lines - 1)
    reasons = []
    old_empty = {ast.unparse(n) for n in old if isinstance(n, ast.Call) and _empty_range(n)}
    for n in added:
        if isinstance(n, ast.Call) and _empty_range(n) and ast.unparse(n) not in old_empty:
            reasons.append(f"its `{ast.unparse(n)}` is empty: the loop over it never runs")
    old_const = {ast.unparse(n.test) for n in old if isinstance(n, (ast.If, ast.While, ast.IfExp)) and _constant_test(n)}
    for n in added:
        if isinstance(n, (ast.If, ast.While, ast.IfExp)) and _constant_test(n) and ast.unparse(n.test) not in old_const:
            reasons.append(f"its condition `{ast.unparse(n.test)}` is a constant: a branch that never runs")
    cut = {ast.unparse(n) for n in _cut_short(old_tree, start, end)} if old_tree is not None else set()
    for n in _cut_short(new_tree, start, start + new_lines - 1):
        if ast.unparse(n) not in cut:
            reasons.append(f"its new `{ast.unparse(n).splitlines()[0]}` comes before statements of its block: they never run")
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    old_defs = {n.name for n in old if isinstance(n, funcs)}
    new_defs = [n for n in added if isinstance(n, funcs) and not n.decorator_list and n.name not in old_defs]
    for outer in (ast.walk(new_tree) if new_defs else ()):  # a block wrapped in a local function nothing calls
        if not isinstance(outer, funcs):
            continue
        inner = [n for n in new_defs if n is not outer and any(n is m for m in ast.walk(outer))]
        used = {n.id for n in ast.walk(outer) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
        reasons += [f"its new local function `{n.name}` is never called: its body never runs"
                    for n in inner if n.name not in used]
    return list(dict.fromkeys(reasons))


def literals_of(messages: list[str]) -> set:
    """The numbers and short strings the failing tests' messages show (their assertions, the values compared),
    but the trivial ones."""
    out: set = set()
    for text in messages:
        for num, s1, s2 in _LITERAL.findall(text):
            if num:
                out.add(float(num) if "." in num else int(num))
            else:
                out.add(s1 or s2)
    return {v for v in out if v not in TRIVIAL}


def _comments(text: str, lo: int, hi: int) -> list[str]:
    """The comments on lines lo..hi, in order."""
    return [c.strip() for ln, (_, c) in sorted((comments(text) or {}).items()) if lo <= ln <= hi]


def _docstrings(tree: ast.AST) -> dict[str, str]:
    out = {}
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(n, clean=False)
            if doc is not None:
                out[getattr(n, "name", "<module>")] = doc
    return out


_FLIP = {ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.Eq: ast.NotEq,
         ast.NotEq: ast.Eq}


def _negates(before: list, after: list) -> bool:
    """Whether `after` holds the negation of a condition `before` holds: `not x` for `x`, or a comparison with
    its operator flipped (`in`/`not in`, `is`/`is not`, `==`/`!=`). A guard added beside a condition
    (`not isinstance(node, dict) or key not in node`) negates nothing that was there."""
    was = {ast.unparse(n) for n in before if isinstance(n, ast.expr)}
    for n in after:
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not) and ast.unparse(n.operand) in was:
            return True
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in _FLIP:
            flipped = ast.Compare(n.left, [_FLIP[type(n.ops[0])]()], n.comparators)
            if ast.unparse(flipped) in was:
                return True
    return False


def suspicions(original: str, new: str, start: int, end: int, new_lines: int,
               literals: set = frozenset()) -> list[Suspicion]:
    """What about the candidate's changed lines reads like a trap (see the module's docstring); empty: nothing."""
    old_tree, new_tree = _parse(original), _parse(new)
    if old_tree is None or new_tree is None:
        return []
    old, added = _region(old_tree, start, end), _region(new_tree, start, start + new_lines - 1)
    reasons = []
    for kind, word in FLOW.items():
        lost = sum(isinstance(n, kind) for n in old) - sum(isinstance(n, kind) for n in added)
        if lost > 0:
            reasons.append(Suspicion("drop", f"it drops a `{word}`"))
    statements = (ast.stmt,)
    if sum(isinstance(n, statements) for n in added) < sum(isinstance(n, statements) for n in old):
        reasons.append(Suspicion("delete", "it deletes a statement"))
    if (_negates(old, added) or _negates(added, old)) and \
            sum(isinstance(n, ast.stmt) for n in added) == sum(isinstance(n, ast.stmt) for n in old):
        reasons.append(Suspicion("negate", "it negates a condition"))
    old_compares = {ast.unparse(n) for n in old if isinstance(n, ast.Compare)}
    old_values = {n.value for n in old if isinstance(n, ast.Constant) and isinstance(n.value, (int, float, str))}
    for n in added:  # a value the tests use, new to these lines: the code now knows the test's input
        if isinstance(n, ast.Compare) and ast.unparse(n) not in old_compares:
            consts = [c.value for c in (n.left, *n.comparators) if isinstance(c, ast.Constant)]
            if any(v in literals and v not in old_values for v in consts
                   if isinstance(v, (int, float, str)) and not isinstance(v, bool)):
                reasons.append(Suspicion("special-case",
                                         f"it special-cases a value the failing tests use (`{ast.unparse(n)}`)"))
    if _docstrings(old_tree) != _docstrings(new_tree):
        reasons.append(Suspicion("docstring", "it edits a docstring"))
    if _comments(original, start, end) != _comments(new, start, start + new_lines - 1):
        reasons.append(Suspicion("comment", "it edits a comment"))
    return list(dict.fromkeys(reasons))
