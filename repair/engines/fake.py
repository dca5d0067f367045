"""A deterministic stand-in model for tests: `--model fake:FIXED_FILE`.

It answers every prompt from a reference file: an infill gets the text that the reference holds
between the prompt's prefix and suffix (or the original lines when they do not match, which the
parser then drops as a no-op); a rewrite gets the reference's version of the function, wrapped in
chatter and a fence like a real chat model would. Sampling returns the same answers again, so
deduplication is exercised too. Tokens are counted as
whitespace-separated words. It has no surprisal signal, so tests see localization without it.
"""
from __future__ import annotations

from pathlib import Path

from .. import spans
from ..generate import Completion
from ..prompts import QWEN, Prompt


class FakeGenerator:
    def __init__(self, fixed_file: str | Path):
        self.fixed = Path(fixed_file).read_text(encoding="utf-8").replace("\r\n", "\n")
        self.name = f"fake:{fixed_file}"
        self.engine = "fake"
        self.fim = QWEN  # it answers from the reference file, whatever the prompt's tokens
        self.calls: list[Prompt] = []

    def _answer(self, p: Prompt) -> str:
        if p.kind == "infill":
            f = self.fixed
            if f.startswith(p.prefix) and f.endswith(p.suffix) and len(p.prefix) + len(p.suffix) <= len(f):
                return f[len(p.prefix):len(f) - len(p.suffix)] + "<|endoftext|>"
            return p.original + "<|endoftext|>"
        if p.kind == "naive":
            return f"Here is the fixed file:\n```python\n{self.fixed}```\n"
        for fn in spans.functions(self.fixed):
            if fn.name.split(".")[-1] == p.name:
                body = "".join(self.fixed.splitlines(keepends=True)[fn.start_line - 1:fn.end_line])
                return f"Sure! The bug is in `{p.name}`.\n```python\n{body}```\nThis should fix it."
        return "I could not find the problem."

    def complete(self, prompt: Prompt, samples: int, temperature: float, greedy: bool = True,
                 deadline: float | None = None):
        self.calls.append(prompt)
        text = self._answer(prompt)
        n = len(text.split())
        return [Completion(text, n, i == 0 and greedy) for i in range(int(greedy) + samples)]

