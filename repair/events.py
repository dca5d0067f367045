"""The repair's progress as typed events: the stages emit them, the terminal draws them (`render.py`, a method
`on_<name>` per kind), `debugger serve` streams each one's `to_json()` and `debugger lsp` reports it. An event
holds the live objects a renderer needs (a TestReport, a Verdict); `to_json()` is the few plain fields a client
gets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar


@dataclass
class Event:
    name: ClassVar[str] = "event"

    def to_json(self) -> dict:
        return {}

    def detail(self) -> dict:
        """What a trace keeps beyond to_json(): the prompt's text, the candidate's edit, the tests' messages."""
        return {}


Emit = Callable[[Event], None]


class Trace:
    """`debugger fix --trace FILE`: every event as one JSON line (its to_json() and detail(), the seconds since
    the repair began), written as it happens, then handed on to `then` (the terminal)."""

    def __init__(self, path, then: Emit, t0: float):
        import time
        self.clock, self.t0 = time.monotonic, t0
        self.file = open(path, "w", encoding="utf-8", buffering=1)
        self.then = then

    def __call__(self, event: Event) -> None:
        import json
        row = {"t": round(self.clock() - self.t0, 2), "event": event.name} | event.to_json() | event.detail()
        self.file.write(json.dumps(row, default=str) + "\n")
        self.then(event)

    def close(self) -> None:
        self.file.close()


def _messages(report, names: list[str], limit: int = 600) -> dict:
    """test id -> the error as the runner states it and the end of its report, for the tests named."""
    tests = getattr(report, "tests", None) or {}
    return {n: {"summary": tests[n].summary[:limit], "end": tests[n].message[-limit:]} for n in names if n in tests}


def _span(a: int, b: int) -> dict:
    return {"start_line": a, "end_line": b}


@dataclass
class BaselineStarted(Event):
    command: str
    name: ClassVar[str] = "baseline_start"

    def to_json(self) -> dict:
        return {"command": self.command}


@dataclass
class Baseline(Event):
    report: Any  # testrun.TestReport
    name: ClassVar[str] = "baseline"

    def to_json(self) -> dict:
        p = self.report
        return {"tests": len(p.tests), "failing": p.failing, "seconds": round(p.seconds, 2), "hung": p.hung}


@dataclass
class ModelProgress(Event):
    phase: str  # assemble | convert
    done: int
    total: int
    name: ClassVar[str] = "model_progress"

    def to_json(self) -> dict:
        return {"phase": self.phase, "done": self.done, "total": self.total}


@dataclass
class ModelLoaded(Event):
    generator: Any  # generate.Generator
    name: ClassVar[str] = "model"

    def to_json(self) -> dict:
        return {"model": self.generator.name, "engine": self.generator.engine}


@dataclass
class ScorerLoaded(Event):
    scorer: Any  # localization.passes.Scorer, on the engine that reads scores
    name: ClassVar[str] = "scorer"

    def to_json(self) -> dict:
        return {"engine": self.scorer.engine}


@dataclass
class SecondLook(Event):
    name: ClassVar[str] = "second_look"


@dataclass
class Localized(Event):
    loc: Any  # localization.ranking.Localization
    name: ClassVar[str] = "localized"

    def to_json(self) -> dict:
        return {"statements": [_span(s.start_line, s.end_line) | {"score": round(s.score, 3), "why": s.why}
                               for s in self.loc.statements[:8]],
                "functions": [{"name": f.name} | _span(f.start_line, f.end_line) for f in self.loc.functions[:3]]}


@dataclass
class MutationStarted(Event):
    count: int  # statements mutated
    name: ClassVar[str] = "mutation_start"

    def to_json(self) -> dict:
        return {"count": self.count}


@dataclass
class Mutation(Event):
    probe: Any  # localization.mutants.MutationProbe
    name: ClassVar[str] = "mutation"

    def to_json(self) -> dict:
        p = self.probe
        return {"run": p.run, "mutants": p.mutants, "seconds": round(p.seconds, 2), "error": p.error}


@dataclass
class Prompted(Event):
    prompt: Any  # prompts.Prompt
    left: float | None = None  # seconds of the repair's budget left
    name: ClassVar[str] = "prompt"

    def to_json(self) -> dict:
        return {"kind": self.prompt.kind, "left": None if self.left is None else round(self.left)} | \
            _span(self.prompt.start_line, self.prompt.end_line)

    def detail(self) -> dict:
        p = self.prompt
        return {"text": p.text} if p.text else {"messages": p.messages}


@dataclass
class Generated(Event):
    prompt: Any  # prompts.Prompt
    candidates: int  # new to the search
    tokens: int  # decoded
    prefilled: int  # prompt tokens the engine read, and those its prompt cache held (llama.cpp; else 0)
    cached: int
    seconds: float
    name: ClassVar[str] = "generated"

    def to_json(self) -> dict:
        return {"kind": self.prompt.kind, "candidates": self.candidates, "tokens": self.tokens,
                "prefilled": self.prefilled, "cached": self.cached, "seconds": round(self.seconds, 2)} | \
            _span(self.prompt.start_line, self.prompt.end_line)


@dataclass
class Judged(Event):
    verdict: Any  # validate.Verdict
    name: ClassVar[str] = "verdict"

    def to_json(self) -> dict:
        v = self.verdict
        return {"origin": v.candidate.origin, "plausible": v.plausible, "remaining": v.remaining,
                "seconds": round(v.seconds, 2)}

    def detail(self) -> dict:
        v = self.verdict
        e = v.candidate.edit
        return {"edit": _span(e.start_line, e.end_line) | {"text": e.text}, "fixed": v.fixed,
                "still_failing": _messages(v.report, v.still_failing), "regressions": _messages(v.report, v.regressions),
                "suspicions": [str(s) for s in v.candidate.suspicions]}


@dataclass
class Rejected(Event):
    candidate: Any  # generate.Candidate
    reasons: list[str]
    name: ClassVar[str] = "rejected"

    def to_json(self) -> dict:
        return {"origin": self.candidate.origin, "reasons": self.reasons}

    def detail(self) -> dict:
        e = self.candidate.edit
        return {"edit": _span(e.start_line, e.end_line) | {"text": e.text}}


@dataclass
class Round(Event):
    number: int
    step: Any  # the Verdict the round goes on from, or None (it samples wider)
    name: ClassVar[str] = "round"

    def to_json(self) -> dict:
        return {"round": self.number, "from": self.step.candidate.origin if self.step else None}


@dataclass
class Selecting(Event):
    seconds: float
    name: ClassVar[str] = "selecting"

    def to_json(self) -> dict:
        return {"seconds": self.seconds}


@dataclass
class Comparing(Event):
    count: int
    name: ClassVar[str] = "comparing"

    def to_json(self) -> dict:
        return {"count": self.count}


@dataclass
class Compared(Event):
    comparison: Any  # differ.Comparison
    name: ClassVar[str] = "compared"

    def to_json(self) -> dict:
        c = self.comparison
        return {"inputs": c.inputs, "behaviours": len(c.classes), "disagreements": len(c.disagreements),
                "seconds": c.seconds}

    def detail(self) -> dict:
        c = self.comparison
        return {"functions": c.functions, "classes": c.classes, "skipped": c.skipped,
                "shown": [{"input": d.input, "results": d.results} for d in c.disagreements]}
