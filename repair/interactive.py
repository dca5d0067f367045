"""`debugger fix --interactive`: the user steers a repair at its two decisions.

After localization the ranked spans are shown with their evidence, and the user repairs them all, picks
some, or excludes some; after selection, when more than one candidate passed, the user chooses among them
(the ranking's choice by default). The CLI then asks whether to apply, to look for more candidates, or to
quit. Questions go to the terminal (stderr), answers come from stdin; the pipeline calls `steer` and `pick`.
"""
from __future__ import annotations

import re

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax


class Session:
    def __init__(self, console: Console, before_question=lambda: None):
        self.c = console
        self.pause = before_question  # stops the progress spinner so that the question stays readable
        self.chosen: tuple[str, set[int]] | None = None  # ("pick" | "exclude", span numbers), kept for a rerun

    def _ask(self, question: str) -> str:
        self.pause()
        self.c.print(escape(question), end="", soft_wrap=True)
        try:
            return input().strip().lower()
        except EOFError:
            return "q"

    def steer(self, loc):
        """The spans to repair: all (Enter), some (`1,3`), or all but some (`x 2`)."""
        spans = loc.statements + loc.functions
        if self.chosen is None:
            self.pause()
            self.c.print("[bold]Where the evidence points[/] (best first):")
            for n, s in enumerate(spans, 1):
                where = f"{s.start_line}" + (f"-{s.end_line}" if s.end_line != s.start_line else "")
                what = f"function {s.name}" if s.kind == "function" else s.kind
                self.c.print(f"  {n:>2}. lines {where:<8} {what:<20} score {s.score:5.2f}  "
                             f"{escape('; '.join(s.why) or s.reason)}")
            while True:
                answer = self._ask("Repair [Enter] all, [1,3] only these, [x 2] all but these, [q] quit: ")
                if answer == "q":
                    raise KeyboardInterrupt
                nums = {int(n) for n in re.findall(r"\d+", answer)}
                if answer and (not nums or not all(1 <= n <= len(spans) for n in nums)):
                    self.c.print(f"[red]numbers between 1 and {len(spans)}, please[/]")
                    continue
                self.chosen = ("exclude" if answer.startswith("x") else "pick", nums)
                break
        how, nums = self.chosen
        if not nums:
            return loc
        keep = [s for n, s in enumerate(spans, 1) if (n in nums) == (how == "pick")]
        loc.statements = [s for s in loc.statements if s in keep]
        loc.functions = [s for s in loc.functions if s in keep]
        return loc

    def pick(self, choice):
        """The candidate to keep among those that passed (the ranking's first by default)."""
        if len(choice.ranked) < 2:
            return choice.winner
        self.pause()
        self.c.print(f"[bold]{len(choice.ranked)} candidates pass your tests[/] "
                     f"(confidence {choice.confidence.get('level')}):")
        for n, v in enumerate(choice.ranked, 1):
            e = v.candidate.edit
            self.c.print(f"  {n}. {escape(v.candidate.origin)} ({choice.votes[id(v)]} source(s) behind it); "
                         f"lines {e.start_line}-{e.end_line} become:")
            self.c.print(Syntax(e.text.rstrip("\n"), "python", theme="ansi_dark", background_color="default"))
        for d in choice.disagreements[:3]:
            self.c.print(f"  on {escape(d['input'])}: " + "; ".join(f"{escape(k)} {escape(v)}" for k, v in d["results"].items()),
                         soft_wrap=True)
        while True:
            answer = self._ask(f"Keep which? [Enter] 1, [1-{len(choice.ranked)}]: ")
            if not answer:
                return choice.winner
            if answer.isdigit() and 1 <= int(answer) <= len(choice.ranked):
                return choice.ranked[int(answer) - 1]
            self.c.print("[red]a candidate's number, please[/]")

    def next_step(self) -> str:
        """After a fix is shown: "apply", "more" (look again, harder) or "quit"."""
        while True:
            answer = self._ask("[a]pply it, look for [m]ore candidates, or [q]uit? ")
            for word in ("apply", "more", "quit"):
                if answer and word.startswith(answer):
                    return word
            self.c.print("[red]a, m or q, please[/]")
