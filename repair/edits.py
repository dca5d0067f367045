"""Turn raw model output into a span edit, or reject it.

Tolerates code fences, chatter around them and missing indentation; rejects edits that do not parse,
rename the function, are empty, or change nothing. A rewrite keeps the original's comments, blank lines and
docstring wherever it changed only those (`keep_prose`): the diff a user reads holds the fix, not rewording.
"""
from __future__ import annotations

import ast
import difflib
import io
import re
import textwrap
import tokenize

from .prompts import Prompt
from .source import Edit

SPECIAL = re.compile(r"<\|[a-z_]+\|>")
FENCE = re.compile(r"```[ \t]*(?:python|py|Python)?[ \t]*\n(.*?)(?:```|\Z)", re.S)


def _indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def _splice(full: str, p: Prompt, new: str) -> str:
    lines = full.splitlines(keepends=True)
    return "".join(lines[:p.start_line - 1]) + new + "".join(lines[p.end_line:])


COMPOUND = ("if ", "elif ", "else", "for ", "while ", "with ", "def ", "class ", "try", "except", "finally",
            "async ", "match ", "case ")


def opens_block(line: str) -> bool:
    return line.split("#")[0].rstrip().endswith(":")


def _is_header(line: str) -> bool:
    return opens_block(line) or line.lstrip().startswith(COMPOUND)


def infill_keep(lines: list[str], p: Prompt) -> int:
    """How many completion lines an infill keeps: as many as were cut; but when the completion opens
    a block where the original did not (a missing guard), the block up to the model's copy of the
    guarded statement, at most `extra_lines` more: whatever follows that copy is invention."""
    keep = p.max_lines
    original = p.original.strip().splitlines()
    if keep and lines and original and opens_block(lines[0]) and not _is_header(original[0]):
        keep += p.extra_lines
        for i, ln in enumerate(lines[1:keep], 2):
            if ln.strip() == original[0].strip():
                return i
    return keep


def infill_done(text: str, p: Prompt) -> bool:
    """Has a growing completion all the lines `infill_keep` would take? (the generator's stop test)"""
    complete = [ln + "\n" for ln in text.split("\n")[:-1]]
    keep = infill_keep(complete, p)
    return keep > 0 and len(complete) >= keep


def comments(text: str) -> dict[int, tuple[int, str]] | None:
    """The comments of a text of Python: line number -> (the column it starts at, the comment); None where the
    text does not tokenize."""
    try:
        return {t.start[0]: (t.start[1], t.string) for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type == tokenize.COMMENT}
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


def _strip_comments(text: str) -> str:
    """Drop comments the model added: chatter, often cut off mid-sentence by the token limit."""
    found = comments(textwrap.dedent(text))
    if found is None:
        return text
    lines = text.splitlines(keepends=True)
    shift = len(lines[0]) - len(textwrap.dedent(text).splitlines(keepends=True)[0]) if lines else 0
    for ln, (col, _) in sorted(found.items(), reverse=True):
        row, col = ln - 1, col + shift
        if row < len(lines):
            kept = lines[row][:col].rstrip()
            lines[row] = kept + "\n" if kept else ""
    return "".join(lines)


def parse_infill(completion: str, p: Prompt, full: str) -> Edit | None:
    text = SPECIAL.split(completion)[0]
    finished = len(text) < len(completion)  # the model closed the middle itself
    lines = text.splitlines(keepends=True)
    if not lines:
        return None
    keep = infill_keep(lines, p)
    if keep:
        lines = lines[:keep]
    if not finished and not lines[-1].endswith("\n") and len(lines) > 1:
        lines = lines[:-1]  # cut off by the token limit mid-line
    lines = [ln if ln.endswith("\n") else ln + "\n" for ln in lines]
    # The model often misjudges the depth; a replaced statement keeps the depth it had.
    want = _indent_of(p.original.splitlines()[0]) if p.original.strip() else ""
    got = _indent_of(lines[0])
    if got != want:
        lines = [want + ln[len(got):] if ln.startswith(got) and ln.strip() else ln for ln in lines]
    new = "".join(lines)
    if "#" not in p.original:
        new = _strip_comments(new)
    if not new.strip() or new.strip() == p.original.strip() or not _parses(_splice(full, p, new)):
        return None
    return Edit(p.start_line, p.end_line, new)


def _blocks(completion: str) -> list[str]:
    text = SPECIAL.split(completion)[0] if not completion.startswith("<|") else SPECIAL.sub("", completion)
    found = [m.group(1) for m in FENCE.finditer(text)]
    return found or [text]


def _function_from(block: str, name: str) -> str | None:
    block = textwrap.dedent(block.expandtabs(4)) if "\t" in block else textwrap.dedent(block)
    try:
        tree = ast.parse(block)
    except SyntaxError:
        return None
    lines = block.splitlines(keepends=True)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            # from the def line: decorators sit outside the tree-sitter span and stay as they are
            return textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno]))
    return None


def _code_lines(lines: list[str], cols: dict[int, int]):
    """The code lines of a text, each with the comment-only and blank lines just above it: (those prose lines
    per code line, plus one list for the prose after the last; the code lines; their trailing comments, "" for
    none; their code without the comment)."""
    gaps, code, tails, keys = [[]], [], [], []
    for i, ln in enumerate(lines, 1):
        key = (ln[:cols[i]] if i in cols else ln).rstrip()
        if not key:
            gaps[-1].append(ln)
            continue
        code.append(ln)
        tails.append(ln[cols[i]:].strip() if i in cols else "")
        keys.append(key)
        gaps.append([])
    return gaps, code, tails, keys


def _is_doc(stmt: ast.AST) -> bool:
    """Is this statement a docstring (a bare string, first in its body)?"""
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _docstring_at(text: str) -> tuple[tuple[int, int] | None, int] | None:
    """(the (first, last) line of the first function's docstring in `text` or None, the line its body starts
    on); None where `text` holds no function that parses."""
    try:
        tree = ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError):
        return None
    fn = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if fn is None:
        return None
    first = fn.body[0]
    return ((first.lineno, first.end_lineno) if _is_doc(first) else None), first.lineno


def _behaviour(text: str) -> str | None:
    """The AST without comments and docstrings: what a prose edit cannot change."""
    try:
        tree = ast.parse(textwrap.dedent(text))
    except (SyntaxError, ValueError):
        return None
    for n in ast.walk(tree):
        body = getattr(n, "body", None)
        if isinstance(body, list) and body and _is_doc(body[0]):
            n.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def keep_prose(old: str, new: str) -> str:
    """`new` (a rewrite of the function `old`) with `old`'s comments, blank lines and docstring wherever the
    rewrite changed only those: a model asked for a function back rewords its docstring, drops or adds
    comments ("# Fixed: ...") and blank lines, none of which a fix needs. Code lines stay as the rewrite has
    them; where a changed stretch mixes code and prose, the comment lines the model added there are dropped.
    Returns `new` unchanged where the result would behave otherwise (it never does) or cannot be read."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    at_a, at_b = _docstring_at(old), _docstring_at(new)
    if at_a is None or at_b is None:
        return new
    (da, _), (db, body) = at_a, at_b
    if (da is None) != (db is None) or (da and a[da[0] - 1:da[1]] != b[db[0] - 1:db[1]]):  # the original's, or none
        if da and _indent_of(b[body - 1]) != _indent_of(a[da[0] - 1]):
            return new  # the rewrite's body sits at another depth: leave it as the model wrote it
        b[body - 1:db[1] if db else body - 1] = a[da[0] - 1:da[1]] if da else []
    ca, cb = comments("".join(a)), comments("".join(b))
    if ca is None or cb is None:
        return new
    ca, cb = {ln: col for ln, (col, _) in ca.items()}, {ln: col for ln, (col, _) in cb.items()}
    (ga, la, ta, ka), (gb, lb, tb, kb) = _code_lines(a, ca), _code_lines(b, cb)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        if tag == "equal":  # the same code: the original's lines, its comments and blank lines before them
            for i in range(i1, i2):
                out += ga[i] + [la[i]]
            continue
        said = {ln.strip() for i in range(i1, i2) for ln in ga[i]} | {ta[i] for i in range(i1, i2)}
        for j in range(j1, j2):  # changed code: the rewrite's lines, less the comments it added
            out += [ln for ln in gb[j] if not ln.strip() or ln.strip() in said]
            line = lb[j]
            if tb[j] and tb[j] not in said:  # a comment the model put after its code
                line = kb[j] + line[len(line.rstrip("\r\n")):]
            out.append(line)
    out += ga[-1]
    result = "".join(out)
    return result if _behaviour(result) is not None and _behaviour(result) == _behaviour(new) else new


def parse_rewrite(completion: str, p: Prompt, full: str) -> Edit | None:
    indent = _indent_of(p.original.splitlines()[0]) if p.original else ""
    for block in _blocks(completion):
        func = _function_from(block, p.name)
        if func is None:
            continue
        new = textwrap.indent(func, indent, lambda ln: bool(ln.strip()))
        new = keep_prose(p.original, new if new.endswith("\n") else new + "\n")
        if new.strip() == p.original.strip() or not _parses(_splice(full, p, new)):
            continue
        return Edit(p.start_line, p.end_line, new)
    return None


def parse_whole_file(completion: str, p: Prompt, full: str) -> Edit | None:
    """The naive peer: the model returns the whole file."""
    for block in _blocks(completion):
        new = block if block.endswith("\n") else block + "\n"
        if new.strip() and new.strip() != full.strip() and _parses(new):
            return Edit(1, len(full.splitlines()), new)
    return None


PARSERS = {"infill": parse_infill, "rewrite": parse_rewrite, "naive": parse_whole_file}


def parse(completion: str, p: Prompt, full: str) -> Edit | None:
    return PARSERS[p.kind](completion, p, full)
