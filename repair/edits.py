"""Turn raw model output into a span edit, or reject it.

Tolerates code fences, chatter around them and missing indentation; rejects edits that do not parse,
rename the function, are empty, or change nothing.
"""
from __future__ import annotations

import ast
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


def _strip_comments(text: str) -> str:
    """Drop comments the model added: chatter, often cut off mid-sentence by the token limit."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(textwrap.dedent(text)).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    lines = text.splitlines(keepends=True)
    shift = len(lines[0]) - len(textwrap.dedent(text).splitlines(keepends=True)[0]) if lines else 0
    for t in reversed([t for t in toks if t.type == tokenize.COMMENT]):
        row, col = t.start[0] - 1, t.start[1] + shift
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


def parse_rewrite(completion: str, p: Prompt, full: str) -> Edit | None:
    first = p.original.splitlines()[0] if p.original else ""
    indent = _indent_of(first)
    for block in _blocks(completion):
        func = _function_from(block, p.name)
        if func is None:
            continue
        new = textwrap.indent(func, indent, lambda ln: bool(ln.strip()))
        if not new.endswith("\n"):
            new += "\n"
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
