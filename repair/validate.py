"""Stage 4: does a candidate fix the failing tests without breaking others? Judged in a scratch copy.

The failing tests run first, since most candidates die there in a fraction of the suite's time; the
rest of the suite runs after them only if they all pass (in the same session where the suite is quick).
"""
from __future__ import annotations

import dataclasses
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


# a suite whose whole run took at most this long (the recording run's seconds), or that has no test module but
# the failing tests' own, is run in one session per candidate; else the failing tests run alone first (only their
# modules collected), and the suite after them
ONE_SESSION_SECONDS = 3.0


def validate(ws: Workspace, src: SourceFile, candidate: Candidate, data: bytes, before: TestReport) -> Verdict:
    """`data` is the candidate's bytes for the file, exactly what --apply would write. The failing tests run
    first, and the rest of the suite only if they all pass: in the same session where the suite is quick to
    collect and run (a regression that order shows is confirmed by the suite in its own order: a test that
    needs another to run before it is not broken by the candidate), else in a session of its own."""
    with ws.copy(src, data) as copy:
        failing = before.failing
        selectable = [n for n in failing if "::" in n]  # collection errors are not selectable tests
        seconds = 0.0
        if selectable and len(selectable) == len(failing):
            # all of them, not just up to the first failure: how many a candidate fixes is what
            # picks the one to continue from when none passes
            # one session where it collects nothing more than the failing tests' modules, or is quick anyway
            one = {n.split("::")[0] for n in before.tests} <= {n.split("::")[0] for n in selectable} or \
                before.seconds <= ONE_SESSION_SECONDS
            run = ws.tests(copy, first=selectable) if one else ws.tests(copy, select=selectable)
            seconds = run.seconds
            still = [n for n in selectable if n not in run.tests or n in run.failing]
            if still or run.timed_out or not run.tests:
                first = dataclasses.replace(run, tests={n: t for n, t in run.tests.items() if n in selectable})
                return Verdict(candidate, False, [n for n in selectable if n in run.passing], still, [], first,
                               seconds)
            if one and all(n in run.passing for n in before.passing):
                return _verdict(candidate, run, before, seconds)
        full = ws.tests(copy)
    return _verdict(candidate, full, before, seconds + full.seconds)


def _verdict(candidate: Candidate, full: TestReport, before: TestReport, seconds: float) -> Verdict:
    failing = before.failing
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
