"""The repair loop as a function over the stages: test -> localize -> generate -> validate -> rank.

No printing here: progress goes out through `on_event(name, payload)` and the CLI renders it.
"""
from __future__ import annotations

import dataclasses
import difflib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import prompts, writer
from .config import FixConfig, model_label, reads_surprisal, surprisal_later
from .generate import Candidate, Generator, ast_key, generate
from .locate import Scorer, locate
from .localize import Localization, localize, weights_for
from .sandbox import make_sandbox, remove_copy, scratch_copy
from .screen import screen
from .source import Edit, InputError, SourceFile, edited_text, load
from .testrun import TestReport, default_command, run_tests
from .validate import Verdict, rank, validate

Event = Callable[[str, Any], None]


@dataclass
class FixResult:
    file: str
    status: str  # fixed | not_fixed | already_passing | error
    diff: str = ""
    applied: bool = False
    tests: dict = field(default_factory=dict)
    localization: list[dict] = field(default_factory=list)
    candidates: dict = field(default_factory=lambda: {"generated": 0, "rejected": 0, "validated": 0,
                                                      "plausible": 0})
    rejected: list[dict] = field(default_factory=list)  # candidates the patch screen refused to run
    model: str = ""
    engine: str = ""  # what ran the model: llama, transformers, openai or fake
    seconds: float = 0.0
    error: str | None = None
    tokens: int = 0
    winner: dict | None = None  # which prompt produced the fix and which span it touched
    new_source: bytes | None = None  # the fixed file's bytes (not serialized)
    source_sha256: str = ""  # the bytes the fix was validated against (what `debugger apply` checks)
    root: str = ""  # the project root the tests ran from
    sandbox: str = ""  # the isolation the tests ran under (see repair/sandbox.py)
    # how far to trust a fix (choose.py): {"level": "high"|"medium"|"low", "reasons": [...]}
    confidence: dict | None = None
    disagreements: list[dict] = field(default_factory=list)  # inputs where plausible candidates answer differently
    alternatives: list[dict] = field(default_factory=list)  # plausible candidates that behave otherwise, with diffs
    # the search after the first plausible candidate: when it came (s), how many passed, inputs compared, seconds added
    selection: dict = field(default_factory=dict)
    # where the time went, seconds: tests (baseline, flaky check, rounds' re-runs), localize (probe included),
    # load (models), generate, validate, compare (the differential check)
    phases: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("new_source")
        return d

    @property
    def exit_code(self) -> int:
        return {"fixed": 0, "already_passing": 0, "not_fixed": 1, "flaky": 1}.get(self.status, 2)


class _Clock:
    """Adds the time of a `with` block to one of a result's phases."""
    def __init__(self, phases: dict, name: str):
        self.phases, self.name = phases, name

    def __enter__(self):
        self.t = time.monotonic()

    def __exit__(self, *exc):
        self.phases[self.name] = round(self.phases.get(self.name, 0.0) + time.monotonic() - self.t, 2)


def _baseline(src: SourceFile, command: str, cfg: FixConfig) -> TestReport:
    """The tests against `src` (the user's file, or a partial fix of it), with line recording on."""
    copy = scratch_copy(src.root)
    try:
        (copy / src.rel).write_bytes(src.raw)
        report = run_tests(copy, command, target=src.rel, timeout=cfg.timeout, test_timeout=cfg.test_timeout,
                           sandbox=make_sandbox(cfg.sandbox))
    finally:
        remove_copy(copy)
    if report.returncode == 127 or "command not found" in report.output[-400:]:
        raise InputError(f"test command not found: {command}")
    if report.returncode == 5 or (report.returncode == 0 and not report.tests):
        raise InputError(f"no tests collected by: {command}")
    if report.returncode == 4 and set(report.tests) <= {"<command>"}:  # pytest refused its arguments
        said = [ln.strip() for ln in report.output.strip().splitlines() if ln.strip()]
        missing = next((ln for ln in said if "file or directory not found" in ln), None)
        raise InputError(f"the test command names no such test file: {missing.split('not found:', 1)[-1].strip()} ({command})"
                         if missing else f"pytest usage error from: {command}: {said[-1] if said else ''}")
    return report


def _flaky(src: SourceFile, before: TestReport, command: str, cfg: FixConfig) -> list[str]:
    """The failure must reproduce: failing tests run once more, alone; those that pass now are flaky.
    They are marked so, and neither repaired nor demanded of a candidate."""
    selectable = [n for n in before.failing if "::" in n]
    if not selectable:
        return []
    copy = scratch_copy(src.root)
    try:
        (copy / src.rel).write_bytes(src.raw)
        again = run_tests(copy, command, select=selectable, timeout=cfg.timeout, test_timeout=cfg.test_timeout,
                          sandbox=make_sandbox(cfg.sandbox))
    finally:
        remove_copy(copy)
    flaky = [n for n in selectable if n in again.tests and again.tests[n].outcome == "passed"]
    for n in flaky:
        before.tests[n].outcome = "flaky"
    return flaky


def mutation_probe(src: SourceFile, report: TestReport, command: str, cfg: FixConfig, emit: Event):
    """The mutation probe bound to this project, its loop held to the time of the recording run (so
    localization adds about one run of the relevant tests)."""
    from .mutants import probe

    def run(stmts, full=None):
        emit("mutation_start", len(stmts))
        m = probe(src, report, stmts, command, timeout=cfg.timeout, sandbox=make_sandbox(cfg.sandbox), full=full)
        emit("mutation", m)
        return m
    return run


def make_generator(cfg: FixConfig, on_event: Event) -> Generator:
    from .models import pick_engine
    engine = pick_engine(cfg.engine, cfg.model)
    if engine == "fake":
        from .fake import FakeGenerator
        return FakeGenerator(cfg.model[5:])
    if engine == "openai":
        from .openai_generator import OpenAIGenerator
        return OpenAIGenerator(cfg.model[7:])
    if engine == "llama":
        from .llama_generator import LlamaGenerator
        return LlamaGenerator(cfg.model, cfg.adapter, cfg.threads, parallel=max(1, cfg.samples),
                              progress=_progress(on_event))
    from .hf_generator import HFGenerator
    return HFGenerator(cfg.model, cfg.adapter, cfg.threads, progress=_progress(on_event))


def _progress(on_event: Event) -> Callable[[str, int, int], None]:
    """Assembling or converting a model, as events the CLI draws as a bar."""
    return lambda phase, done, total: on_event("model_progress", (phase, done, total))


def make_scorer(cfg: FixConfig, engine: str, load_generator: Callable[[], Generator], on_event: Event):
    """What reads the model's scores for localization (surprisal), or None; for the callers that want it
    (config.reads_surprisal, or surprisal_later for the second look). On transformers that is the
    generator itself (loaded now). The llama.cpp engine returns no log-probabilities of prompt tokens, so
    beside it the same weights (adapter folded in) are read by transformers: localization stays the one
    measured, at the cost of loading torch and a second copy of the weights."""
    if engine in ("fake", "openai"):  # they score nothing
        return None
    if engine == "transformers":
        return load_generator()
    from .hf_generator import HFGenerator
    scorer = HFGenerator(cfg.model, cfg.adapter, cfg.threads, progress=_progress(on_event))
    on_event("scorer", scorer)
    return scorer


def _depth_k(cfg: FixConfig) -> int:
    """Statements to rank: `top_k` for each round, since a round that changed nothing goes deeper."""
    return cfg.top_k * (cfg.rounds + 1)


def _shown(loc: Localization, cfg: FixConfig) -> Localization:
    """The spans the first round tries, as the user sees them."""
    return dataclasses.replace(loc, statements=loc.statements[:cfg.top_k],
                               functions=loc.functions[:max(cfg.functions, 2, cfg.top_k // 3)])


def _prompts(base: SourceFile, loc: Localization, report: TestReport, cfg: FixConfig, depth: int = 0):
    """The stages of one round, cheapest first: greedy infills, sampled infills, function rewrites.

    `depth` counts the rounds before this one that left the base as it was (no candidate fixed a failing
    test). Greedy passes repeat themselves exactly, so such a round moves them on to the next `top_k`
    statements and the next `functions` functions, and lets only the samples (at a higher temperature)
    look at the first ones again."""
    failure = prompts.failure_text(report)
    if cfg.strategy == "naive":
        return [("naive", [prompts.naive(base.text, base.rel, failure)], depth == 0, cfg.samples)]
    stages = []
    if "infill" in cfg.formats:
        top = loc.statements[:cfg.top_k]
        deeper = loc.statements[cfg.top_k * depth:cfg.top_k * (depth + 1)]
        w = cfg.context_lines
        # The greedy pass does not show the cut lines: shown them, a model (the adapter too) tends to copy
        # them back, a no-op. The samples see the failure and the cut lines: a second view of the span.
        stages.append(("infill", [prompts.infill(base.text, s.start_line, s.end_line, window=w) for s in deeper],
                       True, 0))
        if cfg.samples:
            hinted = [prompts.infill(base.text, s.start_line, s.end_line, failure, window=w) for s in top[:3]]
            stages.append(("infill", hinted, depth == 0, cfg.samples))
    if "rewrite" in cfg.formats:
        def rewrites(functions):
            return [prompts.rewrite(base.text, f.start_line, f.end_line, f.name, base.rel, failure) for f in functions]
        n = cfg.functions
        stages.append(("rewrite", rewrites(loc.functions[n * depth:n * (depth + 1)]), True, cfg.samples))
        if depth and cfg.samples:
            stages.append(("rewrite", rewrites(loc.functions[:n]), False, cfg.samples))
    return stages


@dataclass
class Models:
    """The models a repair uses, each loaded when first needed and kept here: a caller that passes the same
    Models to several repairs (the Python API) loads each once; a test puts a scripted generator in. `cfg`,
    when set, is what they load from whatever a repair's own settings say: a long-lived process's operator's
    configuration (`debugger serve`, `debugger lsp`), so that no job decides the model of another."""
    generator: Generator | None = None
    scorer: Scorer | None = None
    cfg: FixConfig | None = None


def fix(path: str, cfg: FixConfig, *, root: str | None = None, apply: bool = False,
        models: Models | None = None, on_event: Event | None = None,
        steer: Callable[[Localization], Localization] | None = None, pick: Callable[[Any], Verdict] | None = None) -> FixResult:
    """Repair `path`. `steer` (interactive use) may narrow the ranked spans before any candidate is made;
    `pick` chooses among the candidates that passed instead of the ranking (choose.Choice -> its Verdict)."""
    t0 = time.monotonic()
    emit = on_event or (lambda name, payload: None)
    src = load(path, root)
    writer.check_target(src, apply)
    if apply:
        writer.check_repo_state(src)  # fail before minutes of work, not after
    own = models is None  # this repair's models, not a caller's it keeps warm for the next
    models = models if models is not None else Models()
    if models.generator is None:
        from .models import check
        check(cfg.model)
    command = cfg.test or default_command()
    result = FixResult(file=str(src.path), status="error", model=cfg.model, sandbox=make_sandbox(cfg.sandbox).isolation,
                       source_sha256=src.sha256, root=str(src.root))
    emit("baseline_start", command)
    with _Clock(result.phases, "tests"):
        before = _baseline(src, command, cfg)
        flaky = _flaky(src, before, command, cfg) if before.failing else []
    emit("baseline", before)
    result.tests = {"command": command, "failing_before": before.failing, "passing_after": before.passing,
                    "flaky": flaky}
    if not before.failing:
        result.status = "flaky" if flaky else "already_passing"
        if flaky:
            result.error = (f"{len(flaky)} failing test(s) passed when run again: flaky, not patched "
                            f"({', '.join(flaky[:3])})")
        result.seconds = round(time.monotonic() - t0, 2)
        return result

    # The generator loads when a prompt first needs it: a fix the probe's mutants find costs no model load.
    from .models import pick_engine
    given = models.generator
    result.model = given.name if given else model_label(cfg.model, cfg.adapter)
    result.engine = given.engine if given else pick_engine(cfg.engine, cfg.model)

    def load_generator() -> Generator:
        if models.generator is None:
            with _Clock(result.phases, "load"):
                models.generator = make_generator(models.cfg or cfg, emit)
            emit("model", models.generator)
        gen = models.generator
        if gen.fim is None and "infill" in cfg.formats and cfg.strategy != "naive":
            raise InputError(f"{gen.name} has no fill-in-the-middle tokens of a known family: run it "
                             "with --formats mutant,rewrite")
        result.model = gen.name
        return gen
    excluded: list = []  # statements the user excluded (interactive steering)
    if cfg.strategy == "naive":  # the peer does no localization: the whole file is the span
        loc = deep = Localization([], [])
        probed = None
    else:
        surprisal = reads_surprisal(cfg, result.engine)
        if surprisal and models.scorer is None:  # on transformers the scorer is the generator, clocked there
            with _Clock(result.phases, "load" if result.engine != "transformers" else "localize"):
                models.scorer = make_scorer(models.cfg or cfg, result.engine, load_generator, emit)

        def later() -> Scorer | None:  # the second look: the scorer loads only now (its time is "load")
            emit("second_look", None)
            if models.scorer is None:
                try:
                    with _Clock(result.phases, "load"):
                        models.scorer = make_scorer(models.cfg or cfg, result.engine, load_generator, emit)
                except ImportError:  # an install with llama.cpp alone (no torch): the look it cannot take
                    return None
            return models.scorer
        loaded, t = result.phases.get("load", 0.0), time.monotonic()
        deep, reads = locate(src, before, models.scorer if surprisal else None, overrides=cfg.weights,
                             top_k=_depth_k(cfg), surprisal=surprisal, infill=None if surprisal else False,
                             mutate=mutation_probe(src, before, command, cfg, emit),
                             later=later if surprisal_later(cfg, result.engine) else None)
        took = time.monotonic() - t - (result.phases.get("load", 0.0) - loaded)  # the second look's load is "load"
        result.phases["localize"] = round(result.phases.get("localize", 0.0) + took, 2)
        if own and reads.second_look:
            # the scorer is done once the ranking is: dropped before the generator loads, the two never
            # share memory (a repair's peak is the larger of them, ~2.5 GB, not their sum)
            models.scorer = None
            import gc
            gc.collect()
        probed = reads.mutation
        loc = _shown(deep, cfg)
        emit("localized", loc)
        if steer is not None:
            ranked = list(loc.statements)
            loc = deep = steer(loc)
            excluded = [s for s in ranked if s not in loc.statements]
            if not loc.statements and not loc.functions:
                raise InputError("every suspect span was excluded: nothing left to repair")
    result.localization = [{"start_line": s.start_line, "end_line": s.end_line, "score": round(s.score, 3),
                            "reason": s.reason, "kind": s.kind} for s in loc.spans]
    if cfg.strategy != "naive" and not loc.statements and not loc.functions:
        result.status = "not_fixed"
        result.error = f"the failing tests never execute {src.rel}; the bug is probably elsewhere"
        result.seconds = round(time.monotonic() - t0, 2)
        return result

    verdicts: list[Verdict] = []
    votes: dict[str, set[str]] = {}
    seeds = mutant_candidates(src, probed) if "mutant" in cfg.formats else []
    if steer is not None:  # the probe's mutants only where the user still wants a repair
        def within(line: int, spans) -> bool:
            return any(s.start_line <= line <= s.end_line for s in spans)
        seeds = [c for c in seeds if within(c.edit.start_line, loc.statements) or
                 (within(c.edit.start_line, loc.functions) and not within(c.edit.start_line, excluded))]
    plausible = _search(src, before, deep, load_generator, cfg, command, result, verdicts, emit,
                        deadline=t0 + cfg.budget, seeds=seeds, votes=votes)
    result.candidates["plausible"] = len(plausible)
    if plausible:
        with _Clock(result.phases, "compare"):
            choice, comparison = select(src, plausible, votes, before, command, cfg, emit)
        best = pick(choice) if pick is not None else choice.winner
        if best is not choice.winner:
            choice.confidence["reasons"].append("you chose it over the ranking's first")
        new = best.candidate.data
        result.status = "fixed"
        result.new_source = new
        result.diff = unified_diff(src, best.candidate.text)
        result.tests["passing_after"] = best.report.passing if best.report else []
        result.winner = {"origin": best.candidate.origin, "round": best.candidate.round,
                         "start_line": best.candidate.edit.start_line, "end_line": best.candidate.edit.end_line,
                         "sources": choice.votes[id(best)]}
        result.confidence = choice.confidence
        result.disagreements = choice.disagreements
        result.alternatives = [{"candidate": choice.labels[id(v)], "sources": choice.votes[id(v)],
                                "diff": unified_diff(src, v.candidate.text)} for v in choice.alternatives]
        result.selection.update(candidates=len(plausible), compared=len(choice.ranked), inputs=comparison.inputs,
                                recorded=comparison.recorded, doctests=max((d.get("attempted", 0) for d in comparison.doctests.values()),
                                             default=0),
                                seconds=round(time.monotonic() - t0 - result.selection["first_plausible"], 2))
        if apply:
            writer.apply(src, new)
            result.applied = True
            if cfg.record:
                record(src, best.candidate.text, before, command, result, cfg.record)
    else:
        result.status = "not_fixed"
        result.error = (f"no candidate passed the tests ({result.candidates['validated']} validated)"
                        if verdicts else "the model produced no usable edit")
        if time.monotonic() - t0 > cfg.budget:
            result.error += f"; the repair budget of {cfg.budget:.0f}s ran out (--budget)"
    result.seconds = round(time.monotonic() - t0, 2)
    return result


def mutant_candidates(src: SourceFile, probe) -> list[Candidate]:
    """The localization probe's mutants that fixed every failing test they ran, as candidates: validated
    (all the tests, like any other) before the model is asked for anything."""
    from .mutants import undoing
    if probe is None:
        return []
    out = []
    for m in undoing(probe):
        edit = Edit(m.line, m.line, m.new_line if m.new_line.endswith("\n") else m.new_line + "\n")
        out.append(Candidate(edit, edited_text(src.text, edit), "mutant", f"mutant {m.label}", 0, changed=2,
                             span=m.span))
    return out


def _search(src: SourceFile, before: TestReport, loc: Localization, load_generator: Callable[[], Generator],
            cfg: FixConfig, command: str, result: FixResult, verdicts: list[Verdict], emit: Event, deadline: float,
            seeds: list[Candidate] = (), votes: dict[str, set[str]] | None = None) -> list[Verdict]:
    """Generate and validate, stage by stage and round by round; returns the plausible candidates.

    `seeds` (the probe's undoing mutants) are validated first. Each candidate is validated as soon as it
    exists. Once one is plausible the search goes on for `cfg.select` more seconds, through the rest of the
    round's prompts, so that the choice is made among alternatives (choose.py), not by whichever came first.
    Between rounds (none passed), the candidate that fixed the most without regressions becomes the base,
    re-tested and re-localized; when none fixed anything, the next round goes deeper (see _prompts).
    """
    base, base_report, seen = src, before, {ast_key(src.text)}
    votes = votes if votes is not None else {}
    select_until: float | None = None
    for c in seeds:
        votes.setdefault(ast_key(c.text), set()).add("probe")  # blind edits: all of them one source
    depth = 0  # rounds in a row that left the base unchanged
    for rnd in range(cfg.rounds + 1):
        temperature = cfg.temperature + 0.15 * rnd
        stages = _prompts(base, loc, base_report, cfg, depth)
        prompts_of_round = [(p, greedy, samples) for _, stage, greedy, samples in stages for p in stage
                            if greedy or samples]
        if rnd == 0 and seeds:
            prompts_of_round.insert(0, (None, True, 0))
        queue = list(prompts_of_round)
        while queue:
            p, greedy, samples = queue.pop(0)
            stop = deadline if select_until is None else min(deadline, select_until)
            if time.monotonic() > stop:
                break
            if p is None:
                cands = [c for c in seeds if ast_key(c.text) not in seen]
                seen.update(ast_key(c.text) for c in cands)
            else:
                emit("prompt", p)
                gen = load_generator()
                with _Clock(result.phases, "generate"):
                    cands, tokens = generate(base.text, [p], gen, samples=samples, temperature=temperature,
                                             greedy=greedy, seen=seen, round=rnd, deadline=stop, votes=votes)
                result.tokens += tokens
            result.candidates["generated"] += len(cands)
            for c in cands:
                c.data = base.apply(c.edit)
                verdict = screen(base.text, c.text, c.edit.start_line, c.edit.end_line,
                                 len(c.edit.text.splitlines()), span=c.span, path=src.path, root=src.root)
                if not verdict.ok:
                    result.candidates["rejected"] += 1
                    result.rejected.append({"origin": c.origin, "reasons": verdict.reasons})
                    emit("rejected", (c, verdict.reasons))
                    continue
                with _Clock(result.phases, "validate"):
                    v = validate(src, c, c.data, before, command, timeout=cfg.timeout, test_timeout=cfg.test_timeout,
                                 sandbox=make_sandbox(cfg.sandbox))
                verdicts.append(v)
                result.candidates["validated"] += 1
                emit("verdict", v)
                if v.plausible and select_until is None:
                    select_until = time.monotonic() + cfg.select
                    queue.sort(key=lambda q, c=c: _nearness(q[0], c))  # second opinions on the same place first
                    result.selection["first_plausible"] = round(time.monotonic() - (deadline - cfg.budget), 2)
                    if cfg.select > 0:
                        emit("selecting", cfg.select)
        plausible = [v for v in verdicts if v.plausible]
        if plausible or time.monotonic() > deadline or rnd == cfg.rounds:
            return plausible
        promising = [v for v in rank(verdicts) if v.remaining < len(base_report.failing) and not v.regressions
                     and v.candidate.round == rnd]
        if promising:
            step = promising[0]
            base = dataclasses.replace(src, raw=step.candidate.data, text=step.candidate.text)
            with _Clock(result.phases, "tests"):
                base_report = _baseline(base, command, cfg)
            loc = localize(base, base_report, weights=weights_for(cfg.weights, first_round=True), top_k=_depth_k(cfg))
            depth = 0
        else:
            depth += 1
        emit("round", (rnd + 1, promising[0] if promising else None))
    return []


def _nearness(p: prompts.Prompt | None, c: Candidate) -> int:
    """Which prompts give a second opinion on a candidate that passed: another prompt for its span, then a
    rewrite of the function around it, then the rest (in their order)."""
    if p is None or not p.start_line <= c.edit.start_line <= p.end_line:
        return 2
    return 0 if p.kind == "infill" else 1


def select(src: SourceFile, plausible: list[Verdict], votes: dict[str, set[str]], before: TestReport, command: str,
           cfg: FixConfig, emit: Event):
    """The differential check over the plausible candidates (the likeliest 8), then the choice among them."""
    from .choose import choose
    from .differ import compare
    shortlist = choose(plausible, votes, None).ranked[:8]
    ids = {id(v): f"c{n}" for n, v in enumerate(shortlist)}
    emit("comparing", len(shortlist))
    comparison = compare(src, {ids[id(v)]: v.candidate.text for v in shortlist}, before, command,
                         timeout=cfg.timeout, test_timeout=cfg.test_timeout, sandbox=make_sandbox(cfg.sandbox),
                         record=len(shortlist) > 1)
    emit("compared", comparison)
    return choose(shortlist, votes, comparison, ids), comparison


def unified_diff(src: SourceFile, new_text: str) -> str:
    return "".join(difflib.unified_diff(src.text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                                        f"a/{src.rel}", f"b/{src.rel}"))


def record(src: SourceFile, fixed_text: str, before: TestReport, command: str, result: FixResult, path: str) -> None:
    """The flywheel: an accepted fix becomes a bug record (data/ schema, secrets redacted on write),
    so `debugger train` can learn from the user's own history."""
    import json
    from pathlib import Path

    from .data.schema import BugRecord, span_between, write_jsonl
    start, end, span = span_between(src.text, fixed_text)
    rec = BugRecord(project=src.root.name, path=src.rel, buggy=src.text, fixed=fixed_text, start_line=start,
                    end_line=end, fixed_span=span, failing_tests=before.failing,
                    failure=prompts.failure_text(before), test_command=command, bug_kind="user", source="user",
                    provenance=json.dumps({"model": result.model, "winner": result.winner,
                                           "created": time.strftime("%Y-%m-%dT%H:%M:%S")}))
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, [rec], append=True)
