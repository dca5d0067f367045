"""Realistic single-site mutations of Python functions: the synthetic bugs of `debugger data synth`.

Each operator edits the source text at one AST node, token-precisely (only the operator, name or
argument changes; formatting stays), and reports the changed lines so that a record's fix is a
line-span rewrite, exactly what `debugger fix` produces.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from typing import Callable, Iterator

KINDS = ["comparison_swap", "arithmetic_swap", "boolean_swap", "off_by_one", "loop_boundary", "wrong_variable",
         "negated_condition", "dropped_condition", "missing_statement", "swapped_arguments", "wrong_constant",
         "wrong_return", "loop_control", "wrong_method"]

CMP = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
       ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is"),
       ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
ARITH = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "+"), ast.Div: ("/", "//"),
         ast.FloorDiv: ("//", "/"), ast.Mod: ("%", "//")}
METHODS = {"append": "extend", "extend": "append", "lower": "upper", "upper": "lower", "startswith": "endswith",
           "endswith": "startswith", "keys": "values", "values": "keys", "lstrip": "rstrip", "rstrip": "lstrip",
           "find": "rfind", "rfind": "find", "pop": "remove", "min": "max", "max": "min", "any": "all",
           "all": "any", "sorted": "reversed", "sort": "reverse", "remove": "discard", "add": "discard",
           "isdigit": "isalpha", "index": "find", "issubset": "issuperset", "union": "intersection"}


@dataclass(frozen=True)
class Mutant:
    kind: str
    start_line: int  # lines of the mutated file that differ (1-based, inclusive)
    end_line: int
    buggy: str  # the whole mutated file
    original_span: str  # the original text of those lines: the fix
    detail: str
    function: str


class _Src:
    """Source with UTF-8 byte offsets, as the ast module reports columns."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.blines = [ln.encode("utf-8") for ln in self.lines]

    def seg(self, node) -> str:
        return self.between(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)

    def between(self, l1: int, c1: int, l2: int, c2: int) -> str:
        if l1 == l2:
            return self.blines[l1 - 1][c1:c2].decode("utf-8")
        parts = [self.blines[l1 - 1][c1:]] + self.blines[l1:l2 - 1] + [self.blines[l2 - 1][:c2]]
        return b"".join(parts).decode("utf-8")

    def replace(self, l1: int, c1: int, l2: int, c2: int, new: str) -> tuple[str, int, int, str]:
        """(new file, first changed line, last changed line in the new file, original lines)."""
        head = self.blines[l1 - 1][:c1].decode("utf-8")
        tail = self.blines[l2 - 1][c2:].decode("utf-8")
        middle = head + new + tail
        new_lines = middle.splitlines(keepends=True)
        text = "".join(self.lines[:l1 - 1]) + middle + "".join(self.lines[l2:])
        return text, l1, l1 + max(1, len(new_lines)) - 1, "".join(self.lines[l1 - 1:l2])

    def delete_lines(self, l1: int, l2: int) -> tuple[str, int, int, str]:
        text = "".join(self.lines[:l1 - 1]) + "".join(self.lines[l2:])
        return text, l1, l1 - 1, "".join(self.lines[l1 - 1:l2])


def _simple(node) -> bool:
    return isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant))


def _wrap(text: str, node) -> str:
    return text if _simple(node) else f"({text})"


def _gap_op(src: _Src, left, right, old: str, new: str):
    """Replace operator `old` in the source between two nodes (same statement)."""
    gap = src.between(left.end_lineno, left.end_col_offset, right.lineno, right.col_offset)
    i = gap.find(old)
    if i < 0:
        return None
    start_col = left.end_col_offset + len(gap[:i].encode("utf-8"))
    if right.lineno != left.end_lineno and "\n" in gap[:i]:
        return None  # operator on a continuation line: skip rather than guess columns
    return src.replace(left.end_lineno, start_col, left.end_lineno, start_col + len(old.encode()), new)


def _locals(fn) -> list[str]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs if a.arg not in ("self", "cls")]
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in names:
            names.append(n.id)
    return names


def _docstring(fn) -> ast.AST | None:
    b = fn.body[0] if fn.body else None
    if isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str):
        return b
    return None


def _in_loop_header(node, parents) -> bool:
    p = parents.get(node)
    return isinstance(p, ast.While) and p.test is node


def _mutants_of(src: _Src, fn, parents) -> Iterator[tuple[str, tuple, str]]:
    doc = _docstring(fn)
    local_names = _locals(fn)
    for node in ast.walk(fn):
        if node is doc or node is fn:
            continue
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in CMP:
            old, new = CMP[type(node.ops[0])]
            kind = "loop_boundary" if _in_loop_header(node, parents) else "comparison_swap"
            r = _gap_op(src, node.left, node.comparators[0], old, new)
            if r:
                yield kind, r, f"{old} -> {new}"
        elif isinstance(node, ast.BinOp) and type(node.op) in ARITH:
            old, new = ARITH[type(node.op)]
            r = _gap_op(src, node.left, node.right, old, new)
            if r:
                yield "arithmetic_swap", r, f"{old} -> {new}"
        elif isinstance(node, ast.BoolOp) and len(node.values) >= 2:
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            r = _gap_op(src, node.values[0], node.values[1], old, new)
            if r:
                yield "boolean_swap", r, f"{old} -> {new}"
            last = node.values[-1]
            prev = node.values[-2]
            yield ("dropped_condition", src.replace(prev.end_lineno, prev.end_col_offset, last.end_lineno,
                                                    last.end_col_offset, ""), f"dropped `{src.seg(last)}`")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
                and node.args and not node.keywords:
            a = node.args[1] if len(node.args) >= 2 else node.args[0]
            text = src.seg(a)
            for delta in ("- 1", "+ 1"):
                yield ("loop_boundary", src.replace(a.lineno, a.col_offset, a.end_lineno, a.end_col_offset,
                                                    f"{_wrap(text, a)} {delta}"), f"range bound {delta}")
        elif isinstance(node, ast.Subscript):
            sl = node.slice
            targets = [sl] if not isinstance(sl, ast.Slice) else [x for x in (sl.lower, sl.upper) if x is not None]
            for t in targets:
                if isinstance(t, ast.Constant) and isinstance(t.value, int) and not isinstance(t.value, bool):
                    new = str(t.value + 1 if t.value >= 0 else t.value - 1)
                elif isinstance(t, (ast.Name, ast.BinOp, ast.Call, ast.Attribute)):
                    new = f"{_wrap(src.seg(t), t)} + 1"
                else:
                    continue
                yield ("off_by_one", src.replace(t.lineno, t.col_offset, t.end_lineno, t.end_col_offset, new),
                       f"index {src.seg(t)} -> {new}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in local_names:
            p = parents.get(node)
            if isinstance(p, ast.Call) and p.func is node:
                continue
            other = next((n for n in local_names if n != node.id), None)
            if other:
                yield ("wrong_variable", src.replace(node.lineno, node.col_offset, node.end_lineno,
                                                     node.end_col_offset, other), f"{node.id} -> {other}")
        elif isinstance(node, (ast.If, ast.While)):
            t = node.test
            neg = src.seg(t.operand) if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) \
                else f"not {_wrap(src.seg(t), t)}"
            yield ("negated_condition", src.replace(t.lineno, t.col_offset, t.end_lineno, t.end_col_offset, neg),
                   "negated")
            if isinstance(node, ast.If) and not node.orelse and len(node.body) == 1 \
                    and isinstance(node.body[0], (ast.Return, ast.Raise, ast.Continue, ast.Break)):
                yield "dropped_condition", src.delete_lines(node.lineno, node.end_lineno), "removed guard"
        elif isinstance(node, (ast.Expr, ast.Assign, ast.AugAssign)) and not isinstance(getattr(node, "value", None),
                                                                                       ast.Constant):
            block = next((getattr(p, f) for p in [parents.get(node)] for f in ("body", "orelse", "finalbody")
                          if p is not None and node in getattr(p, f, [])), [])
            if len(block) > 1 and node.lineno != node.end_lineno + 1:
                yield "missing_statement", src.delete_lines(node.lineno, node.end_lineno), "deleted statement"
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred)
                                                                           for a in node.args[:2]):
            a, b = node.args[0], node.args[1]
            if a.lineno == b.end_lineno and src.seg(a) != src.seg(b):
                between = src.between(a.end_lineno, a.end_col_offset, b.lineno, b.col_offset)
                yield ("swapped_arguments", src.replace(a.lineno, a.col_offset, b.end_lineno, b.end_col_offset,
                                                        src.seg(b) + between + src.seg(a)), "swapped arguments")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float)) \
                and not isinstance(parents.get(node), (ast.Subscript, ast.Slice, ast.UnaryOp)):
            v = node.value
            new = str(not v) if isinstance(v, bool) else repr(v + 1 if v == 0 else v - 1)
            yield ("wrong_constant", src.replace(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset,
                                                 new), f"{v!r} -> {new}")
        elif isinstance(node, ast.Return) and node.value is not None:
            v = node.value
            if isinstance(v, ast.Name):
                other = next((n for n in local_names if n != v.id), None)
                new = other or "None"
            elif not (isinstance(v, ast.Constant) and v.value is None):
                new = "None"
            else:
                continue
            yield ("wrong_return", src.replace(v.lineno, v.col_offset, v.end_lineno, v.end_col_offset, new),
                   f"return {new}")
        elif isinstance(node, (ast.Break, ast.Continue)):
            new = "continue" if isinstance(node, ast.Break) else "break"
            yield ("loop_control", src.replace(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset,
                                               new), new)
        if isinstance(node, ast.Call):
            f = node.func
            name = None
            if isinstance(f, ast.Attribute) and f.attr in METHODS:
                name = f.attr
                col = f.end_col_offset - len(name.encode())
                r = src.replace(f.end_lineno, col, f.end_lineno, f.end_col_offset, METHODS[name])
            elif isinstance(f, ast.Name) and f.id in ("min", "max", "any", "all", "sorted"):
                name = f.id
                r = src.replace(f.lineno, f.col_offset, f.end_lineno, f.end_col_offset, METHODS[name])
            else:
                continue
            yield "wrong_method", r, f"{name} -> {METHODS[name]}"


def _fn_dump(fn_text: str) -> str | None:
    try:
        return ast.dump(ast.parse(textwrap.dedent(fn_text)))
    except SyntaxError:
        return None


def mutate(text: str, *, kinds: list[str] | None = None, per_kind: int = 2,
           keep: Callable[[Mutant], bool] | None = None) -> Iterator[Mutant]:
    """Mutants of every function in `text`, at most `per_kind` per kind per function, in source order.

    Mutants that do not parse, or parse to the same AST as the original, are never yielded.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return
    src = _Src(text)
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    seen: set[str] = set()
    n_lines = len(src.lines)
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        counts: dict[str, int] = {}
        original = _fn_dump("".join(src.lines[fn.lineno - 1:fn.end_lineno]))
        for kind, (buggy, start, end, orig_span), detail in _mutants_of(src, fn, parents):
            if (kinds and kind not in kinds) or counts.get(kind, 0) >= per_kind or buggy in seen:
                continue
            # Only the function changed: parsing it alone (not the file) keeps big files fast.
            b = buggy.splitlines(keepends=True)
            delta = len(b) - n_lines
            dump = _fn_dump("".join(b[fn.lineno - 1:fn.end_lineno + delta]))
            if dump is None or dump == original:
                continue
            m = Mutant(kind, start, end, buggy, orig_span, detail, fn.name)
            if keep and not keep(m):
                continue
            seen.add(buggy)
            counts[kind] = counts.get(kind, 0) + 1
            yield m
