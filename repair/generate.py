"""Stage 3: prompts in, candidate edits out. The model sits behind the small `Generator` protocol."""
from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field
from typing import Callable, Protocol

from . import edits
from .prompts import Fim, Prompt
from .source import Edit, edited_text


@dataclass
class Completion:
    text: str
    tokens: int
    greedy: bool


class Generator(Protocol):
    name: str  # shown to the user and recorded with results
    engine: str  # its engine's name in the registry (engines.ENGINES)
    fim: Fim | None  # the model family's fill-in-the-middle tokens; None: it cannot infill

    def complete(self, prompt: Prompt, samples: int, temperature: float, greedy: bool = True,
                 deadline: float | None = None) -> list[Completion]:
        """The greedy completion (if asked) followed by `samples` sampled ones; decoding stops at `deadline`
        (time.monotonic()), since a whole-file rewrite can outlast any budget."""


@dataclass
class Candidate:
    edit: Edit
    text: str  # the whole file after the edit (LF)
    kind: str  # infill | rewrite | naive
    origin: str  # e.g. "infill greedy @12-12"
    tokens: int
    round: int = 0
    changed: int = 0  # lines added plus lines removed against the file it was generated from
    data: bytes = b""  # the file's bytes with this edit, exactly as validated and as --apply writes
    span: tuple[int, int] | None = None  # the lines the prompt offered for editing
    suspicions: list[str] = field(default_factory=list)  # what reads like a trap in its edit (suspicion.py)
    shape: bool = False  # a probe mutant that is the shape of a human fix, not a slip undone (mutants._shapes)


def ast_key(text: str) -> str:
    """Normalized AST: candidates differing only in formatting or comments are one candidate."""
    try:
        return ast.dump(ast.parse(text), annotate_fields=False, include_attributes=False)
    except (SyntaxError, ValueError):
        return "unparsable:" + text


def changed_lines(old: str, new: str) -> int:
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), n=0, lineterm="")
    return sum(1 for ln in diff if ln[:1] in "+-" and not ln.startswith(("+++", "---")))


def generate(full_text: str, prompts: list[Prompt], generator: Generator, *, samples: int = 0,
             temperature: float = 0.8, greedy: bool = True, seen: set[str] | None = None, round: int = 0,
             on_prompt: Callable[[Prompt], None] | None = None, deadline: float | None = None,
             votes: dict[str, set[str]] | None = None) -> tuple[list[Candidate], int]:
    """Candidates for each prompt, deduplicated against `seen` (AST keys); returns (candidates, tokens).
    `votes` collects, per AST key, the prompts whose completions produced it (duplicates too): agreement
    between different prompts is evidence; samples of one prompt agreeing with each other much less so."""
    seen = seen if seen is not None else {ast_key(full_text)}
    out: list[Candidate] = []
    tokens = 0
    for p in prompts:
        if on_prompt:
            on_prompt(p)
        for c in generator.complete(p, samples, temperature, greedy, deadline=deadline):
            tokens += c.tokens
            edit = edits.parse(c.text, p, full_text)
            if edit is None:
                continue
            new = edited_text(full_text, edit)
            key = ast_key(new)
            if votes is not None:
                votes.setdefault(key, set()).add(f"{p.kind} {p.start_line}-{p.end_line} {hash(p.text)}")
            if key in seen:
                continue
            seen.add(key)
            how = "greedy" if c.greedy else "sample"
            out.append(Candidate(edit, new, p.kind, f"{p.kind} {how} @{p.start_line}-{p.end_line}", c.tokens,
                                 round, changed_lines(full_text, new), span=(p.start_line, p.end_line)))
    return out, tokens

