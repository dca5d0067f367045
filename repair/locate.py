"""Localization with the model's two reads, for `debugger fix`, `debugger localize` and the benchmark.

`localize` ranks from the test run alone; a generator that can score text adds two forward passes:
  1. surprisal: the suspect functions read left to right, one pass (skipped over the token budget);
  2. infill: the first ranking's top INFILL_K statements, each cut out and scored as the answer between
     the lines around it (a short pass per statement); the ranking is then redone with those scores.
The fake generator has neither, so tests that use it see the test-run ranking alone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .localize import INFILL, INFILL_K, Localization, infill_pieces, localize, suspect_ranges, weights_for
from .source import SourceFile
from .testrun import TestReport


@dataclass
class ModelReads:
    surprisal: dict | None = None  # line -> every token's NLL
    infill: dict | None = None  # (start, end) -> [(token NLL, top token's NLL), ...]
    suspects: int = 0  # suspect functions, and how many of them the surprisal pass read
    read: int = 0
    seconds: float = 0.0


def locate(src: SourceFile, report: TestReport, gen=None, *, weights: dict | None = None, top_k: int = 8,
           formula: str = "ochiai", surprisal: bool = True, infill: bool | None = None) -> tuple[Localization, ModelReads]:
    """`infill`: None makes the pass only when the weights give its features any weight (it costs a pass
    per statement); True always (the benchmark, to fit them); False never."""
    w = weights_for() if weights is None else weights
    if infill is None:
        infill = any(w.get(f) for f in INFILL)
    reads = ModelReads()
    t0 = time.monotonic()
    if gen is not None and surprisal and hasattr(gen, "line_surprisal"):
        where = suspect_ranges(src, report)
        reads.suspects = len(where)
        reads.surprisal = gen.line_surprisal(src.text, where, tokens=True) if where else None
        reads.read = sum(any(ln in (reads.surprisal or {}) for ln in range(lo, hi + 1)) for lo, hi in where)
    second = gen is not None and infill and hasattr(gen, "infill_nll")
    loc = localize(src, report, surprisal=reads.surprisal, weights=w, top_k=max(top_k, INFILL_K) if second else top_k,
                   formula=formula)
    if second and len(loc.statements) > 1:  # otherwise the first ranking is the answer: no second round
        first = loc.statements[:INFILL_K]
        scores = gen.infill_nll(infill_pieces(src.text, first))
        reads.infill = {(s.start_line, s.end_line): t for s, t in zip(first, scores)}
        loc = localize(src, report, surprisal=reads.surprisal, infill=reads.infill, weights=w, top_k=top_k,
                       formula=formula)
    reads.seconds = time.monotonic() - t0
    return loc, reads
