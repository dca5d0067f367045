"""Choosing among the candidates that pass the tests, and saying how much the choice can be trusted.

Passing the tests is plausible, not correct: the tests may allow more than one fix. The evidence, in the
order it decides: a candidate that breaks one of the module's doctests loses; then the behaviour with
the most independent sources behind it (different prompts to the model, and probe mutants, producing the
same code or code that answers the same on every input of the differential check; samples of one prompt
are one source); then the model's candidates before
a probe mutant (the model read the function's names and docstring, a mutant did not); then the smaller diff.
Confidence is high only when that evidence agrees and was shown by running code or by sources of different
kinds: two or more sources behind the fix, and either a second, different program that answers the same on
every input compared, a doctest example that passes, three sources or more, or the probe among them; no
plausible candidate behaving otherwise, or not run by the check (low, or medium for a clear majority); no
doctest broken; no answer changed at an edge value (0, empty,
None) that no test passes (differ.Comparison.edges); nothing in the edit that reads like a trap
(suspicion.py: a dropped raise or return, a deleted statement, a negated condition, a special case of the
tests' own values, a docstring or comment edited). A suspect fix ranks below an equally supported one that
is not, and with one source behind it is low.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .differ import Comparison
from .generate import ast_key
from .validate import Verdict


@dataclass
class Choice:
    winner: Verdict
    ranked: list[Verdict]  # every plausible candidate compared, the winner first
    labels: dict[int, str]  # id(verdict) -> "#n origin", as the report names candidates
    votes: dict[int, int]  # id(verdict) -> completions and mutants behind its behaviour
    confidence: dict = field(default_factory=dict)  # {"level": high|medium|low, "reasons": [...]}
    disagreements: list[dict] = field(default_factory=list)  # [{"input": call, "results": {label: outcome}}]
    alternatives: list[Verdict] = field(default_factory=list)  # plausible candidates that behave otherwise


def _origin_rank(v: Verdict) -> int:
    origin = v.candidate.origin
    return 2 if v.candidate.kind == "mutant" else (0 if " greedy " in f" {origin} " else 1)


def choose(plausible: list[Verdict], votes: dict[str, set[str]], comparison: Comparison | None,
           ids: dict[int, str] | None = None) -> Choice:
    """`votes`: AST key -> the sources (prompts, probe mutants) that produced that code; `ids`: id(verdict) ->
    the id the comparison knows it by. A behaviour's support is the number of distinct sources behind it."""
    ids = ids or {}
    cmp = comparison or Comparison()
    own = {id(v): votes.get(ast_key(v.candidate.text)) or {v.candidate.origin} for v in plausible}
    klass: dict[int, int] = {}
    for n, members in enumerate(cmp.classes):
        for v in plausible:
            if ids.get(id(v)) in members:
                klass[id(v)] = n
    for v in plausible:  # not compared: a class of its own
        klass.setdefault(id(v), len(cmp.classes) + len(klass))
    behind = {id(v): len(set().union(*(own[id(w)] for w in plausible if klass[id(w)] == klass[id(v)])))
              for v in plausible}

    # a doctest counts only where some version passes it (the original, or another candidate): one that fails
    # everywhere is out of date or needs what the check does not give (state, output the tests capture)
    passing = set().union(*(set(d.get("tests", [])) - set(d.get("failed", [])) for d in cmp.doctests.values()))
    everywhere = set().union(*(set(d.get("failed", [])) for d in cmp.doctests.values())) - passing

    def broken(v: Verdict) -> list[str]:
        d = cmp.doctests.get(ids.get(id(v), ""), {})
        return [t for t in d.get("failed", []) if t in passing]

    def key(v: Verdict):
        return (len(broken(v)), bool(cmp.errors.get(ids.get(id(v), ""))), -behind[id(v)], bool(v.candidate.suspicions),
                _origin_rank(v), v.candidate.changed, v.candidate.tokens)
    ranked = sorted(plausible, key=key)
    labels = {id(v): f"#{n} {v.candidate.origin}" for n, v in enumerate(ranked, 1)}
    winner = ranked[0]
    alternatives = [v for v in ranked[1:] if klass[id(v)] != klass[id(winner)]]
    by_id = {ids.get(id(v)): v for v in plausible}
    disagreements = [{"input": d.input, "results": {labels[id(by_id[i])]: out for i, out in d.results.items()
                                                    if i in by_id}} for d in cmp.disagreements]

    reasons, level = [], "high"
    n_votes = behind[id(winner)]
    twins = [v for v in ranked if klass[id(v)] == klass[id(winner)]]  # distinct programs, same behaviour
    mine = cmp.doctests.get(ids.get(id(winner), ""), {})
    original_failed = set(cmp.doctests.get("_original", {}).get("failed", []))
    # docstrings whose examples the fix passes and that speak to it: the changed functions' own, or ones the
    # original failed
    def docstring(t: str) -> str:  # a docstring's doctests and the examples it states in words are one docstring
        return t.removesuffix(" (stated)")

    attempted = len({docstring(t) for t in set(mine.get("tests", [])) - set(mine.get("failed", []))
                     if t in original_failed or any(docstring(t) == f or docstring(t).endswith("." + f)
                                                    for f in cmp.functions)})
    if broken(winner):
        level = "low"
        reasons.append(f"it fails doctest(s) {', '.join(broken(winner)[:3])}")
    # behaving otherwise is a finding of the differential check; programs it could not run (an edit inside a
    # method, no plain values, a module that did not load) are other programs, not known to differ: said so
    ran = cmp.inputs > 0 and ids.get(id(winner)) not in cmp.errors
    differ = [v for v in alternatives if ran and ids.get(id(v)) not in cmp.errors]
    unknown = [v for v in alternatives if v not in differ]
    if alternatives:
        # a clear majority (three or more sources, at least twice any alternative's) is medium, else low
        rival = max(behind[id(v)] for v in alternatives)
        level = "medium" if level == "high" and n_votes >= 3 and n_votes >= 2 * rival else "low"
        votes_said = f"({n_votes} sources behind this one, {rival} behind the next)"
        if differ:
            reasons.append(f"{len(differ)} other candidate(s) pass the tests and behave differently {votes_said}: "
                           "your tests allow more than one fix")
        if unknown:
            reasons.append(f"{len(unknown)} other program(s) pass the tests that the differential check could not "
                           f"run {votes_said}: nothing tells them apart")
    elif n_votes >= 2:
        reasons.append(f"{n_votes} independent sources (prompts, probe mutants) produced this behaviour")
    else:
        level = "medium" if level == "high" else level
        reasons.append("one source produced it: nothing independent agrees with it")
    if cmp.inputs and len(cmp.classes) > 0:
        agree = f"{len(twins)} different programs agree" if len(twins) > 1 else "compared"
        reasons.append(f"{agree} on {cmp.inputs} inputs of {', '.join(cmp.functions)} "
                       f"({cmp.recorded} recorded from the tests, "
                       + (f"{cmp.generated} generated like them, " if cmp.generated else "") + "the rest their neighbours)")
    elif cmp.skipped:
        reasons.append(f"no differential check: {cmp.skipped}")
    if attempted and not broken(winner):
        reasons.append(f"the doctests of {attempted} docstring(s) about the change pass")
    if everywhere:
        reasons.append(f"{len(everywhere)} doctest(s) fail with every version, the original too: not counted")
    # Agreement has to be shown by running something: the same text from two prompts shares the model's bias;
    # unless the sources are more than that: three prompts or more (the plain infill, the one that shows the
    # failure, the function's rewrite), or the probe's blind edit and a prompt writing the same program (the
    # probe reads no names, so it shares no bias with the model)
    executed = (len(twins) > 1 and cmp.inputs > 0) or (attempted > 0 and not broken(winner))
    kinds = set().union(*(own[id(v)] for v in twins))
    vouched = n_votes >= 3 or (n_votes >= 2 and "probe" in kinds)
    if level == "high" and not executed and not vouched:
        level = "medium"
        reasons.append("no second program or doctest confirms the behaviour")
    elif level == "high" and not executed:
        reasons.append("the probe's blind edit and the model wrote the same program" if "probe" in kinds else
                       f"{n_votes} different prompts wrote the same program")
    edges = cmp.edges.get(ids.get(id(winner), ""), [])
    if edges:  # it changes an answer at an edge no test asked about: the tests did not choose that change
        level = "medium" if level == "high" else level
        reasons.append(f"it changes what the code answered for {edges[0]}, an edge no test passes"
                       + (f" ({len(edges) - 1} more)" if len(edges) > 1 else "") + ": read the diff")
    if winner.candidate.suspicions:  # passes, but reads like a trap: never high; alone, low
        level = "low" if n_votes < 2 else ("medium" if level == "high" else level)
        reasons.append(f"{'; '.join(winner.candidate.suspicions)}: read the diff before you trust it")
    return Choice(winner, ranked, labels, behind, {"level": level, "reasons": reasons}, disagreements, alternatives)
