"""Where is the bug? Rank tree-sitter spans of the target file from the evidence of one test run.

Signals, fused linearly (weights in `Weights`):
  syntax     CPython's and tree-sitter's error locations, when the file does not parse
  traceback  frames of failing tests inside the file, innermost first (a hang's stack counts too)
  spectrum   Ochiai over per-test line coverage: lines run by failing tests and few passing ones
  surprisal  optional per-line model surprise (mean token NLL), to break the spectrum's ties
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import spans as sp
from .source import SourceFile
from .testrun import TestReport


@dataclass
class Weights:
    syntax: float = 1.0
    traceback: float = 1.0
    spectrum: float = 0.6
    surprisal: float = 0.25


@dataclass
class ScoredSpan:
    start_line: int
    end_line: int
    kind: str  # statement | header | function
    score: float
    reason: str
    name: str = ""


@dataclass
class Localization:
    statements: list[ScoredSpan]  # best first: the infill targets
    functions: list[ScoredSpan]  # best first: the rewrite targets
    syntax_error: bool = False
    evidence: dict[str, dict[int, float]] = field(default_factory=dict)  # signal -> line -> score

    @property
    def spans(self) -> list[ScoredSpan]:
        """One ranked list, statements and functions interleaved by score."""
        return sorted(self.statements + self.functions, key=lambda s: -s.score)


def _traceback(src: SourceFile, report: TestReport) -> dict[int, float]:
    scores: dict[int, float] = {}
    for nodeid in report.failing:
        frames = [f for f in report.tests[nodeid].frames if f.file == src.rel]
        for depth, f in enumerate(reversed(frames)):  # innermost first
            s = 1.0 / (1 + depth)
            scores[f.line] = max(scores.get(f.line, 0.0), s)
    return scores


def _spectrum(report: TestReport, formula: str = "ochiai") -> dict[int, float]:
    """Suspiciousness per line: Ochiai ef/sqrt(F*(ef+ep)), or DStar ef^2/(ep+F-ef) scaled to [0, 1]."""
    failing, passing = report.failing, report.passing
    nf = len(failing)
    if nf == 0:
        return {}
    ef: dict[int, int] = {}
    ep: dict[int, int] = {}
    for n in failing:
        for ln in report.tests[n].lines:
            ef[ln] = ef.get(ln, 0) + 1
    for n in passing:
        for ln in report.tests[n].lines:
            ep[ln] = ep.get(ln, 0) + 1
    if formula == "dstar":
        raw = {ln: e * e / (ep.get(ln, 0) + nf - e) if ep.get(ln, 0) + nf - e else float(e * e) * 2
               for ln, e in ef.items()}
        top = max(raw.values(), default=1.0) or 1.0
        return {ln: v / top for ln, v in raw.items()}
    if formula != "ochiai":
        raise ValueError(f"unknown spectrum formula {formula!r}: use ochiai or dstar")
    return {ln: e / math.sqrt(nf * (e + ep.get(ln, 0))) for ln, e in ef.items()}


def suspect_range(src: SourceFile, report: TestReport) -> tuple[int, int] | None:
    """The lines worth a surprisal pass: from the first to the last line the failing tests ran or
    raised in, widened to whole functions. None when the failing tests never reach the file."""
    lines = {ln for n in report.failing for ln in report.tests[n].lines}
    lines |= {f.line for n in report.failing for f in report.tests[n].frames if f.file == src.rel}
    lines |= set(sp.error_lines(src.text))
    if not lines:
        return None
    lo, hi = min(lines), max(lines)
    funcs = sp.functions(src.text)
    for ln in (lo, hi):
        f = sp.function_at(funcs, ln)
        if f is not None:
            lo, hi = min(lo, f.start_line), max(hi, f.end_line)
    return lo, hi


def localize(src: SourceFile, report: TestReport, *, surprisal: dict[int, float] | None = None,
             weights: Weights | None = None, top_k: int = 8, formula: str = "ochiai") -> Localization:
    w = weights or Weights()
    text = src.text
    stmts, funcs = sp.statements(text), sp.functions(text)
    evidence: dict[str, dict[int, float]] = {}
    errors = sp.error_lines(text)
    if errors:
        evidence["syntax"] = {ln: 1.0 / (1 + i) for i, ln in enumerate(errors)}
    evidence["traceback"] = _traceback(src, report)
    evidence["spectrum"] = _spectrum(report, formula)
    if surprisal:
        top = max(surprisal.values()) or 1.0
        evidence["surprisal"] = {ln: v / top for ln, v in surprisal.items()}

    line_score: dict[int, float] = {}
    line_reason: dict[int, list[str]] = {}
    for signal, per_line in evidence.items():
        weight = getattr(w, signal)
        for ln, s in per_line.items():
            if s <= 0:
                continue
            line_score[ln] = line_score.get(ln, 0.0) + weight * s
            line_reason.setdefault(ln, []).append(f"{signal} {s:.2f}")

    scored: dict[tuple[int, int], ScoredSpan] = {}
    for ln, s in line_score.items():
        st = sp.statement_at(stmts, ln)
        if st is None:
            if errors and ln in errors:  # a broken line tree-sitter could not make a statement of
                st = sp.Span(ln, ln, "statement", "")
            else:
                continue
        key = (st.start_line, st.end_line)
        prev = scored.get(key)
        if prev is None or s > prev.score:
            scored[key] = ScoredSpan(st.start_line, st.end_line, st.kind, s,
                                     ", ".join(line_reason[ln]), st.name)
    # Only the spectrum and surprisal say anything about lines no failing test reached; without
    # traceback, syntax or spectrum evidence a line is not a candidate.
    strong = {ln for sig in ("syntax", "traceback", "spectrum") for ln in evidence.get(sig, {})}
    ranked = sorted((s for s in scored.values()
                     if any(s.start_line <= ln <= s.end_line for ln in strong)),
                    key=lambda s: (-s.score, -s.start_line))
    fscores: dict[tuple[int, int], ScoredSpan] = {}
    for st in ranked:
        f = sp.function_at(funcs, st.start_line)
        if f is None:
            continue
        key = (f.start_line, f.end_line)
        if key not in fscores:
            fscores[key] = ScoredSpan(f.start_line, f.end_line, "function", st.score,
                                      f"contains line {st.start_line} ({st.reason})", f.name)
    functions = sorted(fscores.values(), key=lambda s: -s.score)
    return Localization(ranked[:top_k], functions[:max(2, top_k // 3)], bool(errors), evidence)
