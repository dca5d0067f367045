"""Bug records -> prompt-completion pairs, through the same prompt builder `debugger fix` uses.

Short replacements become infill examples (the prompt `debugger fix` sends for a suspect statement,
with the failure as the hinted variant does); insertions and longer edits become rewrites of the
enclosing function. The completion is exactly the text the runtime parser accepts.
"""
from __future__ import annotations

from debugger import prompts, spans

from .schema import BugRecord

MAX_INFILL_LINES = 3


def to_example(r: BugRecord, hinted: bool = True, window: int | None = None) -> dict | None:
    n = r.end_line - r.start_line + 1
    if 1 <= n <= MAX_INFILL_LINES:
        return prompts.training_example(r.buggy, r.fixed_span, r.start_line, r.end_line, "infill",
                                        failure=r.failure if hinted else "", window=window)
    fn = spans.function_at(spans.functions(r.buggy), max(1, r.start_line))
    if fn is None:
        return None
    delta = len(r.fixed.splitlines()) - len(r.buggy.splitlines())
    fixed_fn = "".join(r.fixed.splitlines(keepends=True)[fn.start_line - 1:fn.end_line + delta])
    return prompts.training_example(r.buggy, fixed_fn, fn.start_line, fn.end_line, "rewrite", path=r.path,
                                    failure=r.failure, name=fn.name)
