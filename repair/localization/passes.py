"""Localization with its optional reads, for `debugger fix`, `debugger localize` and the benchmark.

`localize` ranks from the test run alone; a generator that can score text adds two forward passes:
  1. surprisal: the suspect functions read left to right, one pass (skipped over the token budget);
  2. infill: the first ranking's top INFILL_K statements, each cut out and scored as the answer between
     the lines around it (a short pass per statement).
and a `mutate` callable (debugger.localization.mutants.probe bound to the project) one more test run:
  3. mutation: the first ranking's top MUTANT_K statements mutated (down to MUTANT_TAIL, the likeliest
     mutant only), their tests rerun.
After 2 or 3 the ranking is redone with their scores. Each runs only when the weights use it. The fake
generator scores nothing (it is no Scorer), so tests that use it see the test-run ranking alone.
With no generator that scores (llama.cpp) but a `later` one, a probe that found no patch is followed by
  4. a second look: the scorer is loaded, its surprisal redoes the first ranking, and the probe reads the
     statements that rose into its reach (a second test run); the final ranking sees both probes.
It costs a model load and a test run, so it is spent only where the first probe failed: where a mutant
already fixes the tests, the repair needs no better ranking. A repair takes it later still (`look_again`),
once the first ranking's greedy infills have failed too.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol

from .ranking import (INFILL, INFILL_K, MUTANT_K, MUTANT_TAIL, MUTATION, Localization, infill_pieces, localize,
                       suspect_ranges, weights_for)
from ..source import SourceFile
from ..testrun import TestReport


class Scorer(Protocol):
    """What localization reads from a model (debugger.engines.hf.HFGenerator is the one that can)."""

    def line_surprisal(self, text: str, lines: list[tuple[int, int]] | None = None, max_tokens: int = 1024,
                       tokens: bool = False) -> dict | None:
        """Per line of `text` within `lines`: the tokens' negative log-likelihoods (their mean unless
        `tokens`); None when no range fits in `max_tokens`."""

    def infill_nll(self, pieces: list[tuple[str, str, str]]) -> list[list[tuple[float, float]]]:
        """Per (prefix, middle, suffix): (NLL, NLL of the top token) for each token of the middle."""


@dataclass
class ModelReads:
    surprisal: dict | None = None  # line -> every token's NLL
    infill: dict | None = None  # (start, end) -> [(token NLL, top token's NLL), ...]
    suspects: int = 0  # suspect functions, and how many of them the surprisal pass read
    read: int = 0
    seconds: float = 0.0
    mutation: object = None  # debugger.localization.mutants.MutationProbe, when the probe ran (both probes' runs merged)
    second_look: bool = False  # the scorer was loaded after a probe that found no patch (see `later`)


def locate(src: SourceFile, report: TestReport, gen: Scorer | None = None, *, weights: dict | None = None,
           first: dict | None = None, overrides: dict | None = None, top_k: int = 8, formula: str = "ochiai",
           surprisal: bool = True, infill: bool | None = None, mutate=None,
           later: Callable[[], Scorer | None] | None = None) -> tuple[Localization, ModelReads]:
    """`weights`: the final ranking's; `first`: the first ranking's, which picks what the second-round
    passes read and is the answer when none runs (None: the fitted ones, with `overrides` (the settings'
    feature -> weight) on top; `first` None with `weights` given: `weights`). `infill`: None makes the pass
    only when the weights give its features any weight (it costs a pass per statement); True always (the
    benchmark, to fit them); False never. `mutate`: statements -> MutationProbe, called only when the
    weights give its features weight; it takes `full=` (how many of the statements get every mutant).
    `later`: with `gen` None, loads a Scorer for the second look (4. above); called only when the probe
    ran and no mutant of it made the failing tests pass."""
    w = weights_for(overrides) if weights is None else weights
    if first is None:
        first = weights_for(overrides, first_round=True) if weights is None else w
    if infill is None:
        infill = any(w.get(f) for f in INFILL)
    mutate = mutate if any(w.get(f) for f in MUTATION) else None
    reads = ModelReads()
    t0 = time.monotonic()
    if gen is not None and surprisal:
        where = suspect_ranges(src, report)
        reads.suspects = len(where)
        reads.surprisal = gen.line_surprisal(src.text, where, tokens=True) if where else None
        reads.read = sum(any(ln in (reads.surprisal or {}) for ln in range(lo, hi + 1)) for lo, hi in where)
    second = gen is not None and infill
    loc = localize(src, report, surprisal=reads.surprisal, weights=first, formula=formula,
                   top_k=max(top_k, INFILL_K if second else 0, MUTANT_TAIL if mutate else 0))
    if len(loc.statements) > 1 and (second or mutate):  # otherwise the first ranking is the answer
        if second:
            top = loc.statements[:INFILL_K]
            scores = gen.infill_nll(infill_pieces(src.text, top))
            reads.infill = {(s.start_line, s.end_line): t for s, t in zip(top, scores)}
        if mutate:
            reads.mutation = mutate(loc.statements[:MUTANT_TAIL])
        if mutate and later is not None and gen is None:
            loc = _second_look(src, report, loc, reads, later, mutate, first, formula) or loc
        scored = reads.mutation.scores if reads.mutation else None
        if reads.infill or scored:  # a probe that scored nothing leaves the first ranking the answer
            loc = localize(src, report, surprisal=reads.surprisal, infill=reads.infill, weights=w, top_k=top_k,
                           formula=formula, mutants=scored)
    reads.seconds = time.monotonic() - t0
    return loc, reads


def look_again(src: SourceFile, report: TestReport, reads: ModelReads, later: Callable[[], Scorer | None], mutate, *,
               overrides: dict | None = None, top_k: int = 8, formula: str = "ochiai") -> Localization | None:
    """4. above, taken after `locate` (with no `later`) has answered: a repair defers it until the first ranking's
    cheapest candidates have failed, so a fix they find costs no scorer. Returns the final ranking over both
    probes, or None where the look is not taken (the probe found a patch, or the scorer reads nothing)."""
    w, first = weights_for(overrides), weights_for(overrides, first_round=True)
    loc = localize(src, report, surprisal=reads.surprisal, weights=first, formula=formula,
                   top_k=max(top_k, MUTANT_TAIL))
    t0 = time.monotonic()
    if _second_look(src, report, loc, reads, later, mutate, first, formula) is None:
        return None
    reads.seconds += time.monotonic() - t0
    return localize(src, report, surprisal=reads.surprisal, infill=reads.infill, weights=w, top_k=top_k,
                    formula=formula, mutants=reads.mutation.scores if reads.mutation else None)


def _second_look(src: SourceFile, report: TestReport, loc: Localization, reads: ModelReads, later, mutate,
                 first: dict, formula: str) -> Localization | None:
    """4. above: the first ranking redone with the later scorer's surprisal, the statements that rose
    into the probe's reach probed, the two probes merged into `reads.mutation`. Returns the new first
    ranking, or None where the first probe found a patch or the scorer reads nothing."""
    from .mutants import merged, undoing
    if reads.mutation is None or undoing(reads.mutation):
        return None
    where = suspect_ranges(src, report)
    gen = later() if where else None
    if gen is None:
        return None
    reads.second_look, reads.suspects = True, len(where)
    reads.surprisal = gen.line_surprisal(src.text, where, tokens=True)
    reads.read = sum(any(ln in (reads.surprisal or {}) for ln in range(lo, hi + 1)) for lo, hi in where)
    if not reads.surprisal:
        return None
    again = localize(src, report, surprisal=reads.surprisal, weights=first, formula=formula,
                     top_k=max(len(loc.statements), MUTANT_TAIL))
    key = lambda s: (s.start_line, s.end_line)  # noqa: E731
    full = {key(s) for s in loc.statements[:MUTANT_K]}
    seen = full | {key(s) for s in loc.statements[MUTANT_K:MUTANT_TAIL]}
    rose = [s for s in again.statements[:MUTANT_K] if key(s) not in full]
    tail = [s for s in again.statements[MUTANT_K:MUTANT_TAIL] if key(s) not in seen]
    if rose or tail:
        reads.mutation = merged(reads.mutation, mutate(rose + tail, full=len(rose)))
    return again
