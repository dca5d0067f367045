"""Where is the bug? Rank tree-sitter spans of the target file from the evidence of one test run.

Every statement some evidence points at gets a feature vector; its score is a weighted sum. The
weights are not guessed: `eval/bench_localize.py --save-weights` fits them on bug records of training
projects (listwise: the buggy statement should come first) and writes `weights.json` beside
this module with the figures they reached; `[tool.debugger] weights` overrides any of them by name.

Evidence:
  syntax       CPython's and tree-sitter's error locations, when the file does not parse
  traceback    frames of failing tests inside the file, innermost first (a hang's stack counts too)
  spectrum     Ochiai (or DStar) over per-test line coverage: run by failing tests, by few passing ones;
               DStar is also a feature of its own, so the fit can mix the two formulas
  branch       the same over control-flow arcs leaving a statement: a wrong condition sends failing
               tests down a way passing tests do not go, even when both run the condition itself
  surprisal    optional per-line model surprise (token negative log-likelihood: mean and peak, also
               as ranks among the candidates)
  infill       optional, for the first ranking's top statements only: each cut out and scored as the
               fill-in-the-middle answer between the lines around it (it reads what follows, which the
               left-to-right surprisal cannot): its mean token NLL, and how far its tokens fall below the
               model's own top token, as ranks among those scored. The rest keep their first-round score.
  mutation     optional, for the first ranking's top statements only (localization/mutants.py): each mutated a
               few ways and its tests rerun; kill = Metallaxis (a mutant that changes the failing tests'
               outcome and few passing ones marks its statement), fix = a mutant made failing tests pass
               and broke none of the passing ones run. Same second-round rule as infill.
  recent       how late a failing test last ran the statement (its last lines are where it broke)
  name_match   the words the failing tests' names share with the enclosing function's name
  feeds        a module or class constant (a table, a pattern) read by statements the failing test ran last:
               data built at import, which coverage cannot single out, gets the readers' lateness
  test_text    the words the statement shares with the failing tests' own code and failure messages,
               each weighed by how rare it is among the candidates (a test of entities names ENTITY_RE)
  statement type and distance to the line that raised, as priors
"""
from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .. import spans as sp
from .evidence import words
from ..source import SourceFile
from ..testrun import TestReport

WEIGHTS_FILE = Path(__file__).with_name("weights.json")
TYPES = {"return": {"return_statement"}, "condition": {"if_statement", "elif_clause", "while_statement",
                                                          "assert_statement"},
         "loop": {"for_statement"}, "assign": {"assignment", "augmented_assignment"}, "call": {"call"},
         "raise": {"raise_statement"}}
FEATURES = ("syntax", "traceback", "spectrum", "dstar", "only_failing", "fail_frac", "branch", "branch_only_failing",
            "surprisal", "surprisal_peak", "surprisal_rank", "peak_rank", "spectrum_top", "near_raise", "recent",
            "name_match", "test_text", "feeds", *(f"type_{t}" for t in TYPES), "infill_rank", "infill_regret_rank", "mutant_kill",
            "mutant_fix")
INFILL = ("infill_rank", "infill_regret_rank")
SURPRISAL = ("surprisal", "surprisal_peak", "surprisal_rank", "peak_rank")  # the model's per-line reads
MUTATION = ("mutant_kill", "mutant_fix")
MUTANT_K = 8  # statements the mutation probe mutates fully: the first ranking's top
MUTANT_TAIL = 16  # and down to this rank, their likeliest mutant only (after the top's first two)
INFILL_K = 8  # statements the infill pass scores: the first ranking's top, where the order is close
INFILL_BEFORE, INFILL_AFTER = 40, 25  # lines of the enclosing function around the statement the pass reads
HAND_SET = {"syntax": 10.0, "traceback": 1.0, "spectrum": 0.6, "surprisal": 0.25}  # before any fit
STRONG = ("syntax", "traceback", "spectrum")  # a candidate needs one of these; the rest only reorder


@lru_cache(maxsize=2)
def fitted_weights(first_round: bool = False) -> dict[str, float]:
    """The weights of the final ranking, or (`first_round`) of the ranking made before the second-round
    passes, which picks the statements they read and is the answer when none runs. The file keeps both
    when the final ones were refit beside the probe's scores; otherwise the first round is the final
    weights without the second-round features."""
    if not WEIGHTS_FILE.exists():
        return dict(HAND_SET)
    saved = json.loads(WEIGHTS_FILE.read_text())
    if first_round:
        own = (saved.get("first_round") or {}).get("weights")
        return dict(own) if own else {f: v for f, v in saved["weights"].items() if f not in INFILL + MUTATION}
    return dict(saved["weights"])


def weights_for(overrides: dict | None = None, *, first_round: bool = False) -> dict[str, float]:
    """The fitted weights (see `fitted_weights`) with `overrides` (feature -> weight) on top; unknown
    names are refused."""
    bad = set(overrides or {}) - set(FEATURES)
    if bad:
        raise ValueError(f"unknown localization weight(s) {sorted(bad)}: known are {', '.join(FEATURES)}")
    return {f: 0.0 for f in FEATURES} | fitted_weights(first_round) | dict(overrides or {})


@dataclass
class ScoredSpan:
    start_line: int
    end_line: int
    kind: str  # statement | header | function
    score: float
    reason: str
    name: str = ""
    why: list[str] = field(default_factory=list)  # the evidence in words, largest first (evidence.words)


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


def _suspicion(ef: dict, ep: dict, nf: int, formula: str) -> dict:
    """Ochiai ef/sqrt(F*(ef+ep)), or DStar ef^2/(ep+F-ef) scaled to [0, 1], per element."""
    if formula == "dstar":
        raw = {k: e * e / (ep.get(k, 0) + nf - e) if ep.get(k, 0) + nf - e else float(e * e) * 2
               for k, e in ef.items()}
        top = max(raw.values(), default=1.0) or 1.0
        return {k: v / top for k, v in raw.items()}
    if formula != "ochiai":
        raise ValueError(f"unknown spectrum formula {formula!r}: use ochiai or dstar")
    return {k: e / math.sqrt(nf * (e + ep.get(k, 0))) for k, e in ef.items()}


def _counts(report: TestReport, attr: str) -> tuple[dict, dict]:
    ef: dict = {}
    ep: dict = {}
    for names, into in ((report.failing, ef), (report.passing, ep)):
        for n in names:
            for x in getattr(report.tests[n], attr):
                into[x] = into.get(x, 0) + 1
    return ef, ep


def _spectrum(report: TestReport, formula: str = "ochiai") -> dict[int, float]:
    ef, ep = _counts(report, "lines")
    return _suspicion(ef, ep, len(report.failing), formula) if report.failing else {}


def suspect_ranges(src: SourceFile, report: TestReport) -> list[tuple[int, int]]:
    """The lines worth a surprisal pass, most suspicious first: every function whose body the failing tests
    ran or raised in (a module-level line stands alone), ordered by its best line spectrum, the traceback's
    first. Empty when the failing tests never reach the file. The model reads as many as its token
    budget holds, so a big file still gets its likeliest functions scored."""
    lines = {ln for n in report.failing for ln in report.tests[n].lines}
    raised = {f.line for n in report.failing for f in report.tests[n].frames if f.file == src.rel}
    lines |= raised | set(sp.error_lines(src.text))
    if not lines:
        return []
    spectrum = _spectrum(report)
    funcs = sp.functions(src.text)
    best: dict[tuple[int, int], float] = {}
    for ln in lines:
        f = sp.function_at(funcs, ln)
        if f is not None and ln == f.start_line and ln not in raised:
            continue  # its `def` line ran (at import, as every function's does), not its body
        key = (f.start_line, f.end_line) if f is not None else (ln, ln)
        best[key] = max(best.get(key, 0.0), spectrum.get(ln, 0.0) + (2.0 if ln in raised else 0.0))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(best):  # nested functions: the outer one holds them
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    score = {r: max(v for (lo, hi), v in best.items() if r[0] <= lo and hi <= r[1]) for r in merged}
    return sorted(merged, key=lambda r: (-score[r], r[0]))


@dataclass
class Suspect:
    """A statement the failing tests ran, with its features (a generation candidate is generate.Candidate)."""
    span: sp.Span
    features: dict[str, float]


def _words(name: str) -> set[str]:
    """snake_case and camelCase parts, lower-cased: `test_parse_date` and `parseDate` share {parse, date}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if len(w) > 2} - {"test", "tests", "self", "init"}


# words that say nothing of where a bug is: Python's own, and what pytest writes around every failure
_PLAIN = frozenset(w[:5] for w in (
    "self cls def class return none true false and not for with while elif else lambda import from pass raise "
    "yield assert is in if or try except finally break continue global nonlocal del async await print len str int "
    "dict list set tuple bool isinstance test tests error errors assertion assertionerror expected actual where "
    "equal equals failed fail pytest raises match value values type typeerror valueerror keyerror result").split())


def _text_words(text: str) -> set[str]:
    """The identifiers' and literals' words of some code or text, cut to their first five letters (a crude stem:
    `entities` and `ENTITY_RE` meet at `entit`), without Python's and pytest's own."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {w.lower()[:5] for w in re.split(r"[^A-Za-z]+", spaced) if len(w) > 2} - _PLAIN


@lru_cache(maxsize=64)
def _test_source(path: Path, stamp: tuple[int, int], qualname: tuple[str, ...]) -> str:
    """The source of the test function `qualname` (class names, then the function) in `path`; "" if not found."""
    import ast
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        body = ast.parse(text).body
    except (OSError, SyntaxError, ValueError):
        return ""
    for i, part in enumerate(qualname):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return ""
        if isinstance(node, ast.ClassDef) and i < len(qualname) - 1:
            body = node.body
        else:
            return "\n".join(text.splitlines()[node.lineno - 1:node.end_lineno])
    return ""


def failing_test_words(src: SourceFile, report: TestReport) -> set[str]:
    """The words of the failing tests' own code (each test function, found by its node id under the project
    root, else by its frame in the traceback) and of their failure messages."""
    out: set[str] = set()
    for name in report.failing:
        path, _, rest = name.partition("::")
        qual = tuple(p.split("[", 1)[0] for p in rest.split("::") if p)
        t = report.tests[name]
        where = [src.root / path] + [src.root / f.file for f in t.frames if qual and f.name == qual[-1]]
        for p in where:
            try:
                st = p.stat()
            except (OSError, ValueError):
                continue
            code = _test_source(p, (st.st_mtime_ns, st.st_size), qual) if qual else ""
            if code:
                out |= _text_words(code)
                break
        out |= _text_words(t.message or "")
    return out


_ASSIGNED = re.compile(r"\s*([A-Za-z_]\w*)\s*(?::[^=]*)?=[^=]")


def _feeds(out: list[Suspect], src: SourceFile, funcs: list[sp.Span]) -> None:
    """`feeds`: for an assignment outside any function (a module or class constant: a regex, a table), how late
    the failing tests last ran the latest statement that reads the name it assigns (`recent`); 0 for the rest.
    Such data runs at import for every test, so neither coverage nor lateness points at it, only at its readers."""
    lines = src.text.splitlines()
    text = ["\n".join(lines[c.span.start_line - 1:c.span.end_line]) for c in out]
    inside = [sp.function_at(funcs, c.span.start_line) is not None for c in out]
    for i, c in enumerate(out):
        c.features["feeds"] = 0.0
        m = _ASSIGNED.match(text[i]) if not inside[i] and c.span.type in TYPES["assign"] else None
        if m is None:
            continue
        read = re.compile(rf"(?<![\w]){re.escape(m.group(1))}(?!\w)")
        c.features["feeds"] = max((o.features["recent"] for j, o in enumerate(out)
                                   if j != i and inside[j] and read.search(text[j])), default=0.0)


def _test_text(out: list[Suspect], src: SourceFile, report: TestReport) -> None:
    """`test_text`: the share of a statement's words that the failing tests' code and messages use too, each
    word weighed by its rarity among the candidates (idf): a word every candidate has says nothing."""
    tw = failing_test_words(src, report) if out else set()
    lines = src.text.splitlines()
    sw = [_text_words("\n".join(lines[c.span.start_line - 1:c.span.end_line])) for c in out]
    df: dict[str, int] = {}
    for ws in sw:
        for w in ws:
            df[w] = df.get(w, 0) + 1
    idf = lambda w: math.log((len(out) + 1) / (df[w] + 0.5))  # noqa: E731
    for c, ws in zip(out, sw):
        total = sum(idf(w) for w in ws)
        c.features["test_text"] = sum(idf(w) for w in ws & tw) / total if tw and total > 0 else 0.0


@dataclass
class _Signals:
    """Per-line (and per-run) evidence of one test run, before it is gathered per statement."""
    evidence: dict[str, dict[int, float]]  # what the caller sees: syntax, traceback, spectrum, branch, surprisal
    errors: list[int]
    dstar: dict[int, float]
    branch_only: dict[int, float]
    peak: dict[int, float]
    recent: dict[int, float]
    raised: set[int]  # each failing test's innermost frame in the file: where the error surfaced
    ef: dict[int, int]  # failing / passing tests that ran the line
    ep: dict[int, int]


def _signals(src: SourceFile, report: TestReport, surprisal: dict | None, formula: str) -> _Signals:
    nf = len(report.failing)
    evidence: dict[str, dict[int, float]] = {}
    errors = sp.error_lines(src.text)
    if errors:
        evidence["syntax"] = {ln: 1.0 / (1 + i) for i, ln in enumerate(errors)}
    evidence["traceback"] = _traceback(src, report)
    ef, ep = _counts(report, "lines")
    evidence["spectrum"] = _suspicion(ef, ep, nf, formula) if nf else {}
    aef, aep = _counts(report, "arcs")
    branch: dict[int, float] = {}
    branch_only: dict[int, float] = {}
    for (a, b), s in (_suspicion(aef, aep, nf, formula) if nf else {}).items():
        branch[a] = max(branch.get(a, 0.0), s)
        if a in ep and not aep.get((a, b)):  # passing tests ran the line but never went this way
            branch_only[a] = 1.0
    evidence["branch"] = branch
    mean: dict[int, float] = {}
    peak: dict[int, float] = {}
    for ln, v in (surprisal or {}).items():
        vals = v if isinstance(v, list) else [v]
        if vals:
            mean[ln], peak[ln] = sum(vals) / len(vals), max(vals)
    if mean:
        top_mean, top_peak = max(mean.values()) or 1.0, max(peak.values()) or 1.0
        evidence["surprisal"] = {ln: v / top_mean for ln, v in mean.items()}
        peak = {ln: v / top_peak for ln, v in peak.items()}
    raised = {[f for f in report.tests[n].frames if f.file == src.rel][-1].line for n in report.failing
              if any(f.file == src.rel for f in report.tests[n].frames)}
    recent: dict[int, float] = {}
    for n in report.failing:
        order = report.tests[n].recent
        for i, ln in enumerate(order):
            recent[ln] = max(recent.get(ln, 0.0), (i + 1) / len(order))
    return _Signals(evidence, errors, _suspicion(ef, ep, nf, "dstar") if nf else {}, branch_only, peak, recent,
                    raised, ef, ep)


def _features(st: sp.Span, fn: sp.Span | None, sig: _Signals, nf: int, test_words: list[set[str]]) -> dict:
    ev = sig.evidence
    lines = range(st.start_line, st.end_line + 1)
    best = lambda d: max((d.get(x, 0.0) for x in lines), default=0.0)  # noqa: E731
    run_f = max((sig.ef.get(x, 0) for x in lines), default=0)
    run_p = min((sig.ep.get(x, 0) for x in lines if sig.ef.get(x)), default=0)
    near = [abs(st.start_line - r) for r in sig.raised if fn is not None and fn.contains(r)]
    f = {"syntax": best(ev.get("syntax", {})), "traceback": best(ev["traceback"]),
         "spectrum": best(ev["spectrum"]), "dstar": best(sig.dstar), "only_failing": float(run_f > 0 and run_p == 0),
         "fail_frac": run_f / nf if nf else 0.0, "branch": best(ev["branch"]),
         "branch_only_failing": best(sig.branch_only), "surprisal": best(ev.get("surprisal", {})),
         "surprisal_peak": best(sig.peak), "near_raise": 1.0 / (1 + min(near)) if near else 0.0,
         "recent": best(sig.recent), "name_match": 0.0}
    # tests tend to be named after what they test: test_parse_date exercises parse_date
    fn_words = _words(fn.name.rsplit(".", 1)[-1]) if fn is not None else set()
    if fn_words and test_words:
        f["name_match"] = max(len(fn_words & w) / len(fn_words) for w in test_words)
    for t, types in TYPES.items():
        f[f"type_{t}"] = float(st.type in types)
    return f


def _relative(out: list[Suspect], surprisal: dict[int, float]) -> None:
    """Features of how a statement stands among the candidates of this file, not in absolute terms."""
    was_read = [any(x in surprisal for x in range(c.span.start_line, c.span.end_line + 1)) for c in out]
    read = [c for c, r in zip(out, was_read) if r]
    for key, rank in (("surprisal", "surprisal_rank"), ("surprisal_peak", "peak_rank")):
        values = sorted(c.features[key] for c in read)
        for c in read:
            c.features[rank] = bisect.bisect_left(values, c.features[key]) / max(1, len(values) - 1)
    if read and len(read) < len(out):
        # a big file's surprisal reads only its likeliest functions: a statement left unread is neither
        # surprising nor plain, so it gets the median of those read rather than a zero that ranks it last
        unread = [c for c, r in zip(out, was_read) if not r]
        for key in ("surprisal", "surprisal_peak", "surprisal_rank", "peak_rank"):
            mid = sorted(c.features[key] for c in read)[len(read) // 2]
            for c in unread:
                c.features[key] = mid
    top_spectrum = max((c.features["spectrum"] for c in out), default=0.0)
    for c in out:
        c.features.setdefault("surprisal_rank", 0.0)
        c.features.setdefault("peak_rank", 0.0)
        c.features["spectrum_top"] = float(c.features["spectrum"] >= top_spectrum > 0)


def infill_pieces(text: str, stmts: list[ScoredSpan]) -> list[tuple[str, str, str]]:
    """(before, statement, after) for each statement: the lines of its function around it (a module-level
    statement: of the file), at most INFILL_BEFORE above and INFILL_AFTER below."""
    lines = text.splitlines(keepends=True)
    funcs = sp.functions(text)
    out = []
    for st in stmts:
        f = sp.function_at(funcs, st.start_line)
        lo = max(1, st.start_line - INFILL_BEFORE, f.start_line if f else 1)
        hi = min(len(lines), st.end_line + INFILL_AFTER, f.end_line if f else len(lines))
        out.append(("".join(lines[lo - 1:st.start_line - 1]), "".join(lines[st.start_line - 1:st.end_line]),
                    "".join(lines[st.end_line:hi])))
    return out


def _infill(out: list[Suspect], infill: dict) -> None:
    """`infill`: (start, end) -> [(token NLL, NLL of the model's top token), ...] for the statements scored."""
    scored = [(c, infill[k]) for c in out if (k := (c.span.start_line, c.span.end_line)) in infill and infill[k]]
    if not scored:
        return
    # ranks, not values: a window's NLL depends on its code as much as on the statement (a cross-validated
    # fit on 140 train bugs did as well with these two as with the raw mean and the peak regret added)
    mean = [sum(a for a, _ in t) / len(t) for _, t in scored]
    regret = [sum(a - b for a, b in t) / len(t) for _, t in scored]
    rank = lambda v, x: bisect.bisect_left(sorted(v), x) / max(1, len(v) - 1)  # noqa: E731
    for i, (c, _) in enumerate(scored):
        c.features.update({"infill_rank": rank(mean, mean[i]), "infill_regret_rank": rank(regret, regret[i])})


def suspects(src: SourceFile, report: TestReport, surprisal: dict | None = None,
             formula: str = "ochiai", infill: dict | None = None,
             mutants: dict | None = None) -> tuple[list[Suspect], dict[str, dict[int, float]]]:
    """Every statement some strong evidence points at, with its features, and the per-line evidence.
    `surprisal`: line -> mean token NLL, or line -> every token's NLL (then the peak counts too).
    `infill`: what `infill_nll` gave for the statements of `infill_pieces` (see `_infill`).
    `mutants`: (start, end) -> the mutation probe's scores (see debugger.localization.mutants.score)."""
    sig = _signals(src, report, surprisal, formula)
    stmts, funcs = sp.statements(src.text), sp.functions(src.text)
    test_words = [_words(n.split("::", 1)[-1]) for n in report.failing]
    out: list[Suspect] = []
    seen: set[tuple[int, int]] = set()
    for ln in sorted({ln for name in STRONG for ln in sig.evidence.get(name, {})}):
        st = sp.statement_at(stmts, ln)
        if st is None:
            if ln not in sig.errors:
                continue
            st = sp.Span(ln, ln, "statement", "")  # a broken line tree-sitter could not make a statement of
        if (st.start_line, st.end_line) not in seen:
            seen.add((st.start_line, st.end_line))
            fn = sp.function_at(funcs, st.start_line)
            out.append(Suspect(st, _features(st, fn, sig, len(report.failing), test_words)))
    _relative(out, sig.evidence.get("surprisal", {}))
    _test_text(out, src, report)
    _feeds(out, src, funcs)
    for c in out:
        c.features.update(dict.fromkeys(INFILL + MUTATION, 0.0))
        m = (mutants or {}).get((c.span.start_line, c.span.end_line))
        if m:
            c.features.update({"mutant_kill": m["kill"], "mutant_fix": m["fix"]})
    _infill(out, infill or {})
    return out, sig.evidence


def localize(src: SourceFile, report: TestReport, *, surprisal: dict | None = None, infill: dict | None = None,
             mutants: dict | None = None, weights: dict[str, float] | None = None, top_k: int = 8,
             formula: str = "ochiai") -> Localization:
    """`weights`: feature -> weight, complete (a missing feature weighs nothing); None: the fitted ones
    (the final ranking's when second-round scores are given, else the first round's). `infill`, `mutants`:
    the second round's scores for the first round's top statements (see `suspects`)."""
    w = weights_for(first_round=not (infill or mutants)) if weights is None else weights
    cands, evidence = suspects(src, report, surprisal, formula, infill, mutants)
    ranked = []
    for c in cands:
        parts = {k: w.get(k, 0.0) * v for k, v in c.features.items() if v and w.get(k, 0.0)}
        reason = ", ".join(f"{k} {c.features[k]:.2f}" for k, _ in sorted(parts.items(), key=lambda kv: -abs(kv[1]))
                           if not k.startswith("type_"))
        ranked.append(ScoredSpan(c.span.start_line, c.span.end_line, c.span.kind, sum(parts.values()),
                                 reason or "run by failing tests", c.span.name, words(c.features, parts)))
    ranked.sort(key=lambda s: (-s.score, -s.start_line))
    funcs = sp.functions(src.text)
    fscores: dict[tuple[int, int], ScoredSpan] = {}
    for st in ranked:
        f = sp.function_at(funcs, st.start_line)
        if f is None:
            continue
        key = (f.start_line, f.end_line)
        if key not in fscores:
            fscores[key] = ScoredSpan(f.start_line, f.end_line, "function", st.score,
                                      f"contains line {st.start_line} ({st.reason})", f.name,
                                      [f"holds line {st.start_line}: {st.why[0]}" if st.why else f"holds line {st.start_line}"])
    functions = sorted(fscores.values(), key=lambda s: -s.score)
    return Localization(ranked[:top_k], functions[:max(2, top_k // 3)], "syntax" in evidence, evidence)
