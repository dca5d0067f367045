"""Stage 4: does a candidate fix the failing tests without breaking others? Judged in a scratch copy.

The failing tests run first, since most candidates die there in a fraction of the suite's time;
survivors then run the whole suite.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .generate import Candidate
from .source import SourceFile
from .testrun import TestReport
from .workspace import Workspace


@dataclass
class Verdict:
    candidate: Candidate
    plausible: bool  # every test passes that passed before, and every test that failed now passes
    fixed: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)
    report: TestReport | None = None
    seconds: float = 0.0
    full_suite: bool = False

    @property
    def remaining(self) -> int:
        return len(self.still_failing) + len(self.regressions)


def validate(ws: Workspace, src: SourceFile, candidate: Candidate, data: bytes, before: TestReport) -> Verdict:
    """`data` is the candidate's bytes for the file, exactly what --apply would write."""
    seconds = 0.0
    with ws.copy(src, data) as copy:
        failing = before.failing
        selectable = [n for n in failing if "::" in n]  # collection errors are not selectable tests
        if selectable and len(selectable) == len(failing):
            # all of them, not just up to the first failure: how many a candidate fixes is what
            # picks the one to continue from when none passes
            first = ws.tests(copy, select=selectable)
            seconds += first.seconds
            if first.failing or first.timed_out or not first.tests:
                still = [n for n in selectable if n not in first.tests or n in first.failing]
                return Verdict(candidate, False, [n for n in selectable if n in first.passing],
                               still, [], first, seconds)
        full = ws.tests(copy)
    seconds += full.seconds
    passed = set(full.passing)
    regressions = [n for n in before.passing if n not in passed]
    # a test that failed before and is gone now (a collection error) counts as fixed
    still = [n for n in failing if n in full.tests and n not in passed]
    still += [n for n in full.failing if n not in failing and n not in regressions]
    plausible = not still and not regressions and not full.timed_out and bool(full.passing)
    return Verdict(candidate, plausible, [n for n in failing if n not in still], still, regressions,
                   full, seconds, True)


def rank(verdicts: list[Verdict]) -> list[Verdict]:
    """Plausible first; then fewest regressions, fewest remaining failures, smallest diff, fewest tokens."""
    return sorted(verdicts, key=lambda v: (not v.plausible, len(v.regressions), v.remaining,
                                           v.candidate.changed, v.candidate.tokens))
