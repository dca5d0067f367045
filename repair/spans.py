"""Tree-sitter views of a Python file: statements, compound-statement headers, functions, parse errors.

Lines are 1-based and inclusive throughout. tree-sitter keeps parsing through syntax errors, which is
why it (and not `ast`) gives us spans for a file that does not compile.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

SIMPLE = {"expression_statement", "return_statement", "assert_statement", "raise_statement",
          "pass_statement", "break_statement", "continue_statement", "delete_statement",
          "import_statement", "import_from_statement", "global_statement", "nonlocal_statement"}
# compound statements whose first line(s), up to the body, form an editable header
HEADERS = {"if_statement", "elif_clause", "while_statement", "for_statement", "with_statement",
           "function_definition", "class_definition"}


@dataclass(frozen=True)
class Span:
    start_line: int
    end_line: int
    kind: str  # statement | header | function | error
    name: str = ""  # qualified name of the enclosing function or class, if any
    type: str = ""  # tree-sitter node type; an expression statement's is its expression's (assignment, call)

    def contains(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_python as tsp
    from tree_sitter import Language, Parser
    return Parser(Language(tsp.language()))


def parse(text: str):
    return _parser().parse(text.encode("utf-8"))


def _qualname(node) -> str:
    names = []
    n = node
    while n is not None:
        if n.type in ("function_definition", "class_definition"):
            nm = n.child_by_field_name("name")
            if nm is not None:
                names.append(nm.text.decode("utf-8", "replace"))
        n = n.parent
    return ".".join(reversed(names))


def _header_end(node) -> int:
    body = node.child_by_field_name("consequence") or node.child_by_field_name("body")
    if body is None or body.start_point[0] == node.start_point[0]:
        return node.start_point[0] + 1
    return body.start_point[0]  # 0-based start of body == 1-based last header line


def statements(text: str) -> list[Span]:
    """Simple statements and compound headers, in file order."""
    out: list[Span] = []

    def walk(node) -> None:
        if node.type in SIMPLE:
            if node.type == "expression_statement" and node.named_child_count == 1 \
                    and node.named_children[0].type == "string":
                return  # docstrings are not where bugs live
            kind = node.named_children[0].type if node.type == "expression_statement" and node.named_child_count \
                else node.type
            out.append(Span(node.start_point[0] + 1, node.end_point[0] + 1, "statement", _qualname(node), kind))
            return
        if node.type in HEADERS:
            s = node.start_point[0] + 1
            out.append(Span(s, max(s, _header_end(node)), "header", _qualname(node.parent or node)
                            if node.type != "function_definition" else _qualname(node), node.type))
        for c in node.children:
            walk(c)

    walk(parse(text).root_node)
    return out


def functions(text: str) -> list[Span]:
    out: list[Span] = []

    def walk(node) -> None:
        if node.type == "function_definition":
            out.append(Span(node.start_point[0] + 1, node.end_point[0] + 1, "function", _qualname(node)))
        for c in node.children:
            walk(c)

    walk(parse(text).root_node)
    return out


def statement_at(spans: list[Span], line: int) -> Span | None:
    hits = [s for s in spans if s.contains(line)]
    return min(hits, key=lambda s: s.end_line - s.start_line) if hits else None


def function_at(funcs: list[Span], line: int) -> Span | None:
    hits = [f for f in funcs if f.contains(line)]
    return min(hits, key=lambda f: f.end_line - f.start_line) if hits else None


def error_lines(text: str) -> list[int]:
    """Lines of tree-sitter ERROR/MISSING nodes plus the line CPython's compiler points at."""
    lines: list[int] = []
    try:
        compile(text, "<target>", "exec", dont_inherit=True)
    except SyntaxError as e:
        if e.lineno:
            lines.append(e.lineno)
    except ValueError:
        pass
    if not lines:
        return []

    def walk(node) -> None:
        if node.type == "ERROR" or node.is_missing:
            lines.append(node.start_point[0] + 1)
        if node.has_error:
            for c in node.children:
                walk(c)

    walk(parse(text).root_node)
    return list(dict.fromkeys(lines))
