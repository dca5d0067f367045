"""The repair as public stage functions over one RepairContext: `context` (checks, settings, workspace,
models) -> `baseline` (the tests, and whether the failure reproduces) -> `localize` (ranked spans, the probe's
mutants) -> `search` (candidates generated and validated, round by round) -> `select` (the differential check
and the choice) -> `conclude` (the result, and the write when asked). `fix` runs them in order; the other
front-ends (`debugger localize`, the server, the editor, the hook, the Python API) call the same functions.

No printing here: progress goes out through `on_event(name, payload)` and the CLI renders it.
"""
from __future__ import annotations

import dataclasses
import difflib
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import events as ev
from . import prompts, writer
from .config import FixConfig, model_label
from .engines import ENGINES, Engine, make_generator, make_scorer, pick, reads_surprisal, surprisal_later
from .generate import Candidate, Generator, ast_key, generate
from .localization.passes import ModelReads, Scorer, locate
from .localization.ranking import Localization, weights_for
from .localization.ranking import localize as localize_spans
from .screen import screen
from .suspicion import FLOW_TRAPS
from .source import Edit, InputError, SourceFile, edited_text, load
from .testrun import TestReport
from .validate import Verdict, validate
from .validate import rank as rank_verdicts
from .workspace import Workspace

Event = ev.Emit  # where the stages' progress goes (events.py)


@dataclass
class FixResult:
    file: str
    status: str  # fixed | not_fixed | already_passing | error
    diff: str = ""
    applied: bool = False
    tests: dict = field(default_factory=dict)
    localization: list[dict] = field(default_factory=list)
    candidates: dict = field(default_factory=lambda: {"generated": 0, "rejected": 0, "validated": 0,
                                                      "plausible": 0, "unvalidated": 0})
    rejected: list[dict] = field(default_factory=list)  # candidates the patch screen refused to run
    model: str = ""
    engine: str = ""  # what ran the model: llama, transformers, openai or fake
    seconds: float = 0.0
    error: str | None = None
    tokens: int = 0
    # prompt tokens the engine prefilled, and those it read from its prompt cache instead (llama.cpp engine only)
    prompt_tokens: dict = field(default_factory=lambda: {"prefilled": 0, "cached": 0})
    winner: dict | None = None  # which prompt produced the fix and which span it touched
    new_source: bytes | None = None  # the fixed file's bytes (not serialized)
    source_sha256: str = ""  # the bytes the fix was validated against (what `debugger apply` checks)
    root: str = ""  # the project root the tests ran from
    sandbox: str = ""  # the isolation the tests ran under (see repair/sandbox.py)
    # how far to trust a fix (choose.py): {"level": "high"|"medium"|"low", "reasons": [...]}
    confidence: dict | None = None
    disagreements: list[dict] = field(default_factory=list)  # inputs where plausible candidates answer differently
    alternatives: list[dict] = field(default_factory=list)  # plausible candidates that behave otherwise, with diffs
    passing: list[dict] = field(default_factory=list)  # every plausible candidate compared, the chosen one first
    unclaimed: list[dict] = field(default_factory=list)  # a candidate that passed but is not offered (`unsupported`)
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


@dataclass
class RepairContext:
    """One repair, built once by `context` and handed to every stage: the file, its settings, the workspace
    that runs its tests, the models, the clock and where progress goes. The stages (`baseline`, `localize`,
    `search`, `select`, `conclude`) fill `result` as they go."""
    src: SourceFile
    cfg: FixConfig
    ws: Workspace
    models: Models
    emit: Event
    result: FixResult
    t0: float = field(default_factory=time.monotonic)
    own_models: bool = True  # the models are this repair's alone (dropped when done), not a caller's warm ones
    out_of_time: bool = False  # the search left a prompt or a validation out because it would end past the budget

    @property
    def deadline(self) -> float:
        """When the search stops: the budget's end, less what the repair takes to end after it (END)."""
        return self.t0 + self.cfg.budget - END

    @property
    def engine(self) -> Engine:
        """What runs the model: its capabilities decide the model's reads (engines.reads_surprisal)."""
        return self.models.engine or ENGINES[self.result.engine]

    def lead(self, p: prompts.Prompt | None) -> float:
        """Seconds before prompt `p` yields its first token, as the engine estimates it (0 where it cannot)."""
        lead = getattr(self.generator(), "lead", None) if p is not None else None
        return lead(p) if lead else 0.0

    def clock(self, phase: str) -> _Clock:
        """`with ctx.clock("validate"): ...` adds the block's time to that phase of the result."""
        return _Clock(self.result.phases, phase)

    def done(self, status: str, error: str | None = None) -> FixResult:
        self.result.status, self.result.seconds = status, round(time.monotonic() - self.t0, 2)
        if error is not None:
            self.result.error = error
        return self.result

    def preload(self) -> None:
        """Start loading the model in a thread while the tests run: nearly every repair that finds a failing
        test asks it something, and loading it (reading and repacking ~1 GB of weights) then costs only what
        the tests did not cover. Not where nothing asks the model (no prompt format), nor where a probe
        mutant that passes may end the repair without it (`select` 0): that repair loads no model.
        Engines with nothing local to load (`Engine.loads`) are left alone. The load is kept on `models` (a
        later repair takes it) and its events wait for `generator`."""
        models, cfg = self.models, self.cfg
        asks = cfg.strategy == "naive" or (set(cfg.formats) - {"mutant"} and ("mutant" not in cfg.formats or
                                                                               cfg.select > 0))
        if not asks or models.generator is not None or models.loading is not None or not self.engine.loads:
            return
        import concurrent.futures
        import queue
        held: queue.SimpleQueue = queue.SimpleQueue()
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="debugger-load")
        models.loading = (pool.submit(make_generator, models.cfg or cfg, held.put), held)
        pool.shutdown(wait=False)

    def generator(self) -> Generator:
        """The model: loaded the first time a prompt needs it, or taken from `preload` when that is done (its
        progress shown while this waits)."""
        models, cfg = self.models, self.cfg
        if models.generator is None:
            with self.clock("load"):
                if models.loading is None:
                    models.generator = make_generator(models.cfg or cfg, self.emit)
                else:
                    import concurrent.futures
                    (future, held), models.loading = models.loading, None
                    while True:
                        done = concurrent.futures.wait([future], timeout=0.2).done
                        while not held.empty():
                            self.emit(held.get())
                        if done:
                            break
                    models.generator = future.result()
            self.emit(ev.ModelLoaded(models.generator))
        gen = models.generator
        if gen.fim is None and "infill" in cfg.formats and cfg.strategy != "naive":
            raise InputError(f"{gen.name} has no fill-in-the-middle tokens of a known family: run it "
                             "with --formats mutant,rewrite")
        self.result.model = gen.name
        return gen

    def scorer(self) -> Scorer | None:
        """What reads the model's scores for localization (make_scorer), loaded once and kept with the models."""
        if self.models.scorer is None:
            self.models.scorer = make_scorer(self.models.cfg or self.cfg, self.engine, self.generator, self.emit)
        return self.models.scorer


def context(path: str, cfg: FixConfig, *, root: str | None = None, apply: bool = False, models: Models | None = None,
            on_event: Event | None = None, model: bool = True, t0: float | None = None) -> RepairContext:
    """The context of a repair of `path`, after every check that needs no test run: the file is a target (not a
    test), writable and not mid-merge when it is to be written, the model known (`model=False`: a ranking that
    reads no model). `t0` (time.monotonic()) starts the budget's clock earlier than now: the command line's start,
    so that its budget holds for the whole process. Every front-end (the command line, `debugger localize`, the
    server, the editor, the hook, the Python API) starts here."""
    from .engines.specs import check
    src = load(path, root)
    writer.check_target(src, apply)
    if apply:
        writer.check_repo_state(src)  # fail before minutes of work, not after
    own = models is None
    models = models if models is not None else Models()
    if models.generator is None and model:
        check(cfg.model)
    ws = Workspace.of(src.root, cfg)
    given = models.generator
    result = FixResult(file=str(src.path), status="error", sandbox=ws.sandbox.isolation, source_sha256=src.sha256,
                       root=str(src.root), model=given.name if given else model_label(cfg.model, cfg.adapter),
                       engine=given.engine if given else pick(cfg.engine, cfg.model).name)
    ctx = RepairContext(src, cfg, ws, models, on_event or (lambda event: None), result, own_models=own)
    if t0 is not None:
        ctx.t0 = min(t0, ctx.t0)
    return ctx


def run_baseline(ws: Workspace, src: SourceFile) -> TestReport:
    """The tests against `src` (the user's file, or a partial fix of it), with line recording on; a test command
    that is missing, collects nothing or names no such test file is an InputError."""
    report = ws.run(src, target=src.rel)
    command = ws.command
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


def flaky(ws: Workspace, src: SourceFile, before: TestReport, again: dict | None = None) -> list[str]:
    """The failure must reproduce: failing tests run once more; those that pass now are flaky. They are
    marked so, and neither repaired nor demanded of a candidate. `again`: the mutation probe's unmutated run
    of them (nodeid -> [outcome, message]), which is that second run where it holds every one of them;
    else they run once more, alone."""
    selectable = [n for n in before.failing if "::" in n]
    if not selectable:
        return []
    if again is None or any(n not in again for n in selectable):
        report = ws.run(src, select=selectable)
        again = {n: [t.outcome] for n, t in report.tests.items()}
    gone = [n for n in selectable if n in again and again[n][0] == "passed"]
    for n in gone:
        before.tests[n].outcome = "flaky"
    return gone


def baseline(ctx: RepairContext, reproduce: bool = True) -> TestReport:
    """Stage 1: the project's tests against the file as it is; with `reproduce`, the failures run again to see
    they reproduce (only where something fails; `fix` has the mutation probe's run do that: `reproduced`)."""
    ctx.emit(ev.BaselineStarted(ctx.ws.command))
    with ctx.clock("tests"):
        before = run_baseline(ctx.ws, ctx.src)
        gone = flaky(ctx.ws, ctx.src, before) if before.failing and reproduce else []
    ctx.emit(ev.Baseline(before))
    ctx.result.tests = {"command": ctx.ws.command, "failing_before": before.failing, "passing_after": before.passing,
                        "flaky": gone}
    return before


def reproduced(ctx: RepairContext, before: TestReport, located: Located | None) -> list[str]:
    """The failing tests that did not fail again (flaky), from the mutation probe's unmutated run where it ran
    them all (one test session fewer), else from a run of their own."""
    m = located.reads.mutation if located is not None else None
    with ctx.clock("tests"):
        gone = flaky(ctx.ws, ctx.src, before, m.base if m is not None and m.base else None)
    ctx.result.tests.update(failing_before=before.failing, passing_after=before.passing, flaky=gone)
    return gone


def mutation_probe(ws: Workspace, src: SourceFile, report: TestReport, emit: Event):
    """The mutation probe bound to this project, its loop held to the time of the recording run (so
    localization adds about one run of the relevant tests)."""
    from .localization.mutants import probe

    def run(stmts, full=None):
        emit(ev.MutationStarted(len(stmts)))
        m = probe(ws, src, report, stmts, full=full)
        emit(ev.Mutation(m))
        return m
    return run


@dataclass
class Located:
    """What localization handed the search: the spans the first round tries, as the user sees them; the
    deeper ranking later rounds go on with; the model's reads and the mutation probe's runs; and the
    statements the user excluded (interactive steering)."""
    shown: Localization
    deep: Localization
    reads: ModelReads
    excluded: list = field(default_factory=list)
    steered: bool = False

    @property
    def empty(self) -> bool:
        return not self.shown.statements and not self.shown.functions


def rank(ctx: RepairContext, report: TestReport, *, top_k: int, surprisal: bool,
         formula: str = "ochiai") -> tuple[Localization, ModelReads]:
    """The one way a file's statements and functions are ranked, for a repair and for `debugger localize` (on
    the command line and the server) alike: the fitted weights over the traceback, the spectra, the
    mutation probe and, with `surprisal`, the model's reads (a repair may take a second look later:
    `second_look`)."""
    scorer = ctx.scorer() if surprisal else None
    return locate(ctx.src, report, scorer, overrides=ctx.cfg.weights, top_k=top_k, surprisal=surprisal,
                  infill=None if surprisal else False, formula=formula,
                  mutate=mutation_probe(ctx.ws, ctx.src, report, ctx.emit))


def second_look(ctx: RepairContext, report: TestReport, located: Located) -> Callable[[], Located | None] | None:
    """The second look of localization/passes.py, deferred: None where it will not be taken (a scorer is not
    wanted beside this engine, the probe did not run or found a patch, the user steered); else what takes it,
    which the search calls once the first ranking's greedy infills have all failed. Taken, it loads the scorer
    (its time is "load"), reranks with its surprisal, probes what rose, and shows the new ranking."""
    from .localization.mutants import undoing
    from .localization.passes import look_again
    m = located.reads.mutation
    if not surprisal_later(ctx.cfg, ctx.engine) or m is None or undoing(m) or located.steered:
        return None

    def later() -> Scorer | None:
        ctx.emit(ev.SecondLook())
        try:
            with ctx.clock("load"):
                return ctx.scorer()
        except ImportError:  # an install with llama.cpp alone (no torch): the look it cannot take
            return None

    def take() -> Located | None:
        loaded, t = ctx.result.phases.get("load", 0.0), time.monotonic()
        deep = look_again(ctx.src, report, located.reads, later, mutation_probe(ctx.ws, ctx.src, report, ctx.emit),
                          overrides=ctx.cfg.weights, top_k=_depth_k(ctx.cfg))
        took = time.monotonic() - t - (ctx.result.phases.get("load", 0.0) - loaded)
        ctx.result.phases["localize"] = round(ctx.result.phases.get("localize", 0.0) + took, 2)
        if ctx.own_models and located.reads.second_look:
            ctx.models.scorer = None  # done with it: the generator is loaded, the two share memory only this long
            import gc
            gc.collect()
        if deep is None:
            return None
        return _located(ctx, Located(_shown(deep, ctx.cfg), deep, located.reads))
    return take


def localize(ctx: RepairContext, report: TestReport,
             steer: Callable[[Localization], Localization] | None = None) -> Located:
    """Stage 2: rank statements and functions deep enough for every round. The model's reads as the settings
    and the engine say (engines.reads_surprisal, surprisal_later); `steer` (interactive use) may narrow the
    spans before any candidate is made."""
    cfg = ctx.cfg
    if cfg.strategy == "naive":  # the peer does no localization: the whole file is the span
        return Located(Localization([], []), Localization([], []), ModelReads())
    surprisal = reads_surprisal(cfg, ctx.engine)
    if surprisal and ctx.models.scorer is None:  # on transformers the scorer is the generator, clocked there
        with ctx.clock("localize" if ctx.engine.scores else "load"):  # a scoring engine's scorer is the generator
            ctx.scorer()
    with ctx.clock("localize"):
        deep, reads = rank(ctx, report, top_k=_depth_k(cfg), surprisal=surprisal)
    located = Located(_shown(deep, cfg), deep, reads)
    ctx.emit(ev.Localized(located.shown))
    if steer is not None:
        ranked = list(located.shown.statements)
        located.shown = located.deep = steer(located.shown)
        located.steered = True
        located.excluded = [s for s in ranked if s not in located.shown.statements]
        if located.empty:
            raise InputError("every suspect span was excluded: nothing left to repair")
    return _located(ctx, located, emit=False)


def _located(ctx: RepairContext, located: Located, emit: bool = True) -> Located:
    """`located`'s shown spans into the result (and, with `emit`, to the user)."""
    if emit:
        ctx.emit(ev.Localized(located.shown))
    ctx.result.localization = [{"start_line": s.start_line, "end_line": s.end_line, "score": round(s.score, 3),
                                "reason": s.reason, "kind": s.kind} for s in located.shown.spans]
    return located


def relocalize(ctx: RepairContext, base: SourceFile, report: TestReport) -> Localization:
    """A later round's ranking around a partial fix (`base`, with its own test run): the traceback and spectra
    with the first round's weights, on purpose without the probe or the model's reads. The probe's mutants
    were offered once, in the first round, as patches of the user's file; here each round costs one run of
    the tests already, and the partial fix has just moved the failure to where the ranking looks first."""
    return localize_spans(base, report, weights=weights_for(ctx.cfg.weights, first_round=True), top_k=_depth_k(ctx.cfg))


# after the search stops: the result, the model dropped (a batch it was reading finished first), the exit
END = 1.0
# the second look loads the scorer and probes again (15-23 s for a real bug on 2 cores), then a prompt must read
# what it found (~10 s): it is not taken with less of the budget left
LOOK_SECONDS = 30.0
LOCALIZE_TOP = 8  # statements `debugger localize` ranks (a repair ranks deeper: top_k for each round)


def ranking(ctx: RepairContext, *, surprisal: bool = False,
            formula: str = "ochiai") -> tuple[TestReport, Localization | None, ModelReads | None]:
    """`debugger localize`, on the command line and the server alike: the tests, then (where some fail) the
    ranking; `localization_json` of the three is what both answer."""
    report = baseline(ctx)
    if not report.failing:
        return report, None, None
    loc, reads = rank(ctx, report, top_k=LOCALIZE_TOP, surprisal=surprisal, formula=formula)
    ctx.emit(ev.Localized(loc))
    return report, loc, reads


def localization_json(src: SourceFile, report: TestReport, loc: Localization | None = None,
                      reads: ModelReads | None = None) -> dict:
    """What `debugger localize --json` prints and a server's localize job answers: one shape for both."""
    if not report.failing:
        return {"file": str(src.path), "failing": [], "spans": [],
                "message": f"all {len(report.tests)} tests pass: nothing to localize"}
    m = reads.mutation if reads is not None else None
    return {"file": str(src.path), "failing": report.failing,
            "spans": [{"start_line": s.start_line, "end_line": s.end_line, "kind": s.kind, "score": round(s.score, 4),
                       "evidence": s.reason, "why": s.why} for s in loc.spans]} | (
        {"mutation": {"mutants": m.mutants, "run": m.run, "seconds": round(m.seconds, 2), "error": m.error}}
        if m is not None else {})


def seeds(ctx: RepairContext, located: Located) -> list[Candidate]:
    """The probe's mutants that made the failing tests pass, as the first candidates (where the user, steering,
    still wants a repair)."""
    if "mutant" not in ctx.cfg.formats:
        return []
    found = mutant_candidates(ctx.src, located.reads.mutation)
    if not located.steered:
        return found

    def within(line: int, spans) -> bool:
        return any(s.start_line <= line <= s.end_line for s in spans)
    loc = located.shown
    return [c for c in found if within(c.edit.start_line, loc.statements) or
            (within(c.edit.start_line, loc.functions) and not within(c.edit.start_line, located.excluded))]


def _depth_k(cfg: FixConfig) -> int:
    """Statements to rank: `top_k` for each round, since a round that changed nothing goes deeper."""
    return cfg.top_k * (cfg.rounds + 1)


def _shown(loc: Localization, cfg: FixConfig) -> Localization:
    """The spans the first round tries, as the user sees them."""
    return dataclasses.replace(loc, statements=loc.statements[:cfg.top_k],
                               functions=loc.functions[:max(cfg.functions, 2, cfg.top_k // 3)])


def _prompts(base: SourceFile, loc: Localization, report: TestReport, cfg: FixConfig, depth: int = 0):
    """The stages of one round, cheapest first: greedy infills, sampled infills, function rewrites (without an
    adapter, each of the first three spans' hinted infill right after its plain one: see below).

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
        # spans near each other show the same first line, so their prompts share a cached prefix
        spans = [(s.start_line, s.end_line) for s in deeper + top]
        first = dict(zip(spans, prompts.shared_starts(spans, w or 0)))
        # The greedy pass does not show the cut lines: shown them, a model (the adapter too) tends to copy
        # them back, a no-op. The samples see the failure and the cut lines: a second view of the span.
        plain = [prompts.infill(base.text, s.start_line, s.end_line, window=w, first=first[s.start_line, s.end_line])
                 for s in deeper]
        # the failure below the code where no adapter was trained on it above: the hinted prompt begins as its
        # span's plain one, and asked right after it, finds all of that in the engine's cache (~800 tokens of a
        # 40-line window, ~8 s of the 1.5B's prefill on 2 cores); it pays for its comment and what it writes
        below = not cfg.adapter
        hinted = [prompts.infill(base.text, s.start_line, s.end_line, failure, window=w,
                                 first=first[s.start_line, s.end_line], below=below) for s in top[:3]] if cfg.samples else []
        if below and not depth:
            for n, p in enumerate(plain):
                stages.append(("infill", [p], True, 0))
                stages += [("infill", [hinted[n]], True, cfg.samples)] if n < len(hinted) else []
        else:
            stages.append(("infill", plain, True, 0))
            if hinted:
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
    engine: Engine | None = None  # what a given generator can do (default: its engine's registry entry)
    loading: Any = None  # (Future, events) of a generator loading beside the tests (RepairContext.preload)


def fix(path: str, cfg: FixConfig, *, root: str | None = None, apply: bool = False,
        models: Models | None = None, on_event: Event | None = None,
        steer: Callable[[Localization], Localization] | None = None, pick: Callable[[Any], Verdict] | None = None,
        t0: float | None = None) -> FixResult:
    """Repair `path`: the stages in order over one context. `steer` (interactive use) may narrow the ranked
    spans before any candidate is made; `pick` chooses among the candidates that passed instead of the ranking
    (choose.Choice -> its Verdict). `t0`: see `context`."""
    ctx = context(path, cfg, root=root, apply=apply, models=models, on_event=on_event, t0=t0)
    ctx.preload()
    before = baseline(ctx, reproduce=False)
    if not before.failing:
        return ctx.done("already_passing")
    located = localize(ctx, before, steer)
    gone = reproduced(ctx, before, located)
    if not before.failing:
        return ctx.done("flaky", f"{len(gone)} failing test(s) passed when run again: flaky, not patched "
                                 f"({', '.join(gone[:3])})")
    if cfg.strategy != "naive" and located.empty:
        return ctx.done("not_fixed", f"the failing tests never execute {ctx.src.rel}; the bug is probably elsewhere")
    votes: dict[str, set[str]] = {}
    verdicts: list[Verdict] = []
    plausible = search(ctx, before, located.deep, seeds(ctx, located), verdicts, votes,
                       again=second_look(ctx, before, located))
    ctx.result.candidates["plausible"] = len(plausible)
    if not plausible:
        error = (f"no candidate passed the tests ({tried(verdicts, ctx.result)})" if verdicts else
                 "the budget ran out before a candidate was tested" if ctx.result.candidates["unvalidated"] else
                 "the model produced no usable edit")
        if ctx.out_of_time or time.monotonic() > ctx.deadline:
            error += f"; the repair budget of {cfg.budget:.0f}s ran out (--budget for more)"
        return ctx.done("not_fixed", error)
    with ctx.clock("compare"):
        choice, comparison = select(ctx, plausible, votes, before)
    blind = unsupported(choice.winner, choice.votes[id(choice.winner)], before) if pick is None else None
    if blind:
        w = choice.winner.candidate
        ctx.result.unclaimed = [{"candidate": w.origin, "why": blind, "diff": unified_diff(ctx.src, w.text)}]
        n = choice.votes[id(choice.winner)]
        return ctx.done("not_fixed", f"only a blind edit passed, the probe's {w.origin} ({blind}), and nothing beyond "
                                     "the failing tests supports it: not offered as a fix" if w.kind == "mutant" and n < 2
                        else f"the candidate that passed, {w.origin}, reads like a trap ({blind}) and only {n} source(s) "
                             "wrote it: not offered as a fix")
    best = pick(choice) if pick is not None else choice.winner
    if best is not choice.winner:
        choice.confidence["reasons"].append("you chose it over the ranking's first")
    conclude(ctx, best, choice, comparison, before, apply)
    return ctx.done("fixed")


def unsupported(v: Verdict, sources: int, before: TestReport) -> str | None:
    """Why the chosen candidate is no fix to offer, or None. An edit that takes code out of the flow (it drops a
    `raise` or `return`, a `break` or `continue`) passes a failing test as easily as it fixes
    a bug: on a real project whose visible test is one failing test it is more often the trap, so it is offered
    only with three sources or more behind it (the traps' `parse_bool_unknown`: 3; a tune-split bug whose
    model rewrite and probe mutant both dropped the `raise` the fix kept: 2). A probe mutant is a blind
    one-token edit: alone (no prompt to the model wrote the same behaviour), it is offered only when it reads
    like no trap (suspicion.py) and a test that passed before runs the line it changes, so more than the
    failing tests vouch for it."""
    c = v.candidate
    flow = [s for s in c.suspicions if getattr(s, "kind", "") in FLOW_TRAPS]
    if flow and sources < 3:
        return "; ".join(flow)
    if c.kind != "mutant" or sources > 1:
        return None
    if c.suspicions:
        return "; ".join(c.suspicions)
    lines = set(range(c.edit.start_line, c.edit.end_line + 1))
    if not any(lines & set(before.tests[n].lines) for n in before.passing):
        return "no test that passed runs the line it changes"
    return None


def tried(verdicts: list[Verdict], result: FixResult) -> str:
    """What a repair that found nothing tried, in words: candidates by kind, the lines they patched, the closest."""
    from collections import Counter
    kinds = Counter(v.candidate.kind for v in verdicts)
    where = sorted({(v.candidate.edit.start_line, v.candidate.edit.end_line) for v in verdicts})
    lines = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in where[:8]) + (" ..." if len(where) > 8 else "")
    best = min(verdicts, key=lambda v: (len(v.regressions), v.remaining))
    said = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    refused = f", {result.candidates['rejected']} refused by the screen" if result.candidates["rejected"] else ""
    if result.candidates.get("unvalidated"):
        refused += f", {result.candidates['unvalidated']} left untested at the budget's end"
    return (f"{len(verdicts)} validated: {said}{refused}; at lines {lines}; the closest left {best.remaining} "
            f"test(s) failing")


def conclude(ctx: RepairContext, best: Verdict, choice, comparison, before: TestReport, apply: bool) -> None:
    """The chosen fix into the result (its diff, evidence, confidence, alternatives, what choosing cost), then
    written into the file when asked (and recorded, where the user said so)."""
    result, src = ctx.result, ctx.src
    result.new_source = best.candidate.data
    result.diff = unified_diff(src, best.candidate.text)
    result.tests["passing_after"] = best.report.passing if best.report else []
    result.winner = {"origin": best.candidate.origin, "round": best.candidate.round,
                     "start_line": best.candidate.edit.start_line, "end_line": best.candidate.edit.end_line,
                     "sources": choice.votes[id(best)], "shape": best.candidate.shape}
    result.confidence = choice.confidence
    result.disagreements = choice.disagreements
    result.alternatives = [{"candidate": choice.labels[id(v)], "sources": choice.votes[id(v)],
                            "diff": unified_diff(src, v.candidate.text)} for v in choice.alternatives]
    result.passing = [{"candidate": choice.labels[id(v)], "sources": choice.votes[id(v)],
                       "suspicions": v.candidate.suspicions, "diff": unified_diff(src, v.candidate.text)}
                      for v in choice.ranked]
    now = round(time.monotonic() - ctx.t0, 2)  # (no window opened: only blind edits passed, and two agreed)
    result.selection.update(candidates=result.candidates["plausible"], compared=len(choice.ranked),
                            inputs=comparison.inputs, recorded=comparison.recorded,
                            doctests=max((d.get("attempted", 0) for d in comparison.doctests.values()), default=0),
                            seconds=round(now - result.selection.get("first_plausible", now), 2))
    if apply:
        writer.apply(src, result.new_source)
        result.applied = True
        if ctx.cfg.record:
            record(src, best.candidate.text, before, ctx.ws.command, result, ctx.cfg.record)


def mutant_candidates(src: SourceFile, probe) -> list[Candidate]:
    """The localization probe's mutants that fixed every failing test they ran, as candidates: validated
    (all the tests, like any other) before the model is asked for anything."""
    from .localization.mutants import undoing
    if probe is None:
        return []
    out = []
    for m in undoing(probe):
        edit = Edit(m.line, m.line, m.new_line if m.new_line.endswith("\n") else m.new_line + "\n")
        out.append(Candidate(edit, edited_text(src.text, edit), "mutant", f"mutant {m.label}", 0, changed=2,
                             span=m.span, shape=m.shape))
    return out


def search(ctx: RepairContext, before: TestReport, loc: Localization, seeds: list[Candidate], verdicts: list[Verdict],
           votes: dict[str, set[str]], again: Callable[[], Located | None] | None = None) -> list[Verdict]:
    """Stage 3: generate and validate, stage by stage and round by round; returns the plausible candidates
    (`verdicts` gets every candidate's verdict, `votes` the sources behind each candidate's code).

    `seeds` (the probe's undoing mutants) are validated first. Each candidate is validated as soon as it
    exists. Once one is plausible the search goes on for at most `cfg.select` more seconds, so that the choice
    is made among alternatives (choose.py), not by whichever came first: where the model made it, through the
    prompts that can give a second opinion on its place (another prompt for its span, the rewrite of its
    function; their greedy completions first: the samples of a prompt are one source with its greedy one, see
    choose.py; then the hinted infill's samples, only while one program has passed, with fewer than three
    sources behind it: `_thin`), and it ends when they are done; where the probe's blind edit made it (on real code more often a
    trap than a fix), through the rest of the round's prompts, for the model's view of the failure. A probe
    mutant that would not be offered alone (`unsupported`) opens no window: the search goes on as though
    nothing had passed, until a prompt writes that program too (a second source) or another candidate passes.
    `again` (`second_look`) is called once, in the first round, when its plain infills have all failed: its
    ranking, and the probe's mutants it found, replace the prompts not yet asked.
    Between rounds (none passed), the candidate that fixed the most without regressions becomes the base,
    re-tested and re-localized (`relocalize`); when none fixed anything, the next round goes deeper (see
    _prompts).
    """
    cfg, src, result = ctx.cfg, ctx.src, ctx.result
    base, base_report, seen = src, before, {ast_key(src.text)}
    asked: set[str] = set()  # prompts already sent
    select_until: float | None = None
    later: list = []  # choosing: the samples not asked yet, for a fix the greedy second opinions left thin (_thin)
    sampling = False  # asking them
    for c in seeds:
        votes.setdefault(ast_key(c.text), set()).add("probe")  # blind edits: all of them one source
    depth = 0  # rounds in a row that left the base unchanged
    for rnd in range(cfg.rounds + 1):
        queue = _queue(base, loc, base_report, cfg, depth, set())  # a later round may ask again (hotter samples)
        if rnd == 0 and seeds:
            queue.insert(0, (None, True, 0))
        while queue or again or (later and select_until is not None and _thin(verdicts, votes)):
            if not queue and again is None:  # the greedy second opinions are done: the samples they left
                queue, later, sampling = later, [], True
            if again is not None and (rnd or select_until is not None or not queue or queue[0][0] is not None
                                      and not any(q[0].kind == "infill" and not q[2] for q in queue if q[0])):
                take = not rnd and select_until is None and time.monotonic() + LOOK_SECONDS < ctx.deadline
                looked, again = (again() if take else None), None
                if looked is not None:  # its ranking's prompts not yet asked, after the mutants it found
                    loc = looked.deep
                    fresh = [c for c in mutant_candidates(src, looked.reads.mutation) if ast_key(c.text) not in seen]
                    for c in fresh:
                        votes.setdefault(ast_key(c.text), set()).add("probe")
                    seeds = seeds + fresh
                    queue = [(None, True, 0)] * bool(fresh) + _queue(base, loc, base_report, cfg, depth, asked)
                continue
            p, greedy, samples = queue.pop(0)
            if sampling and not _thin(verdicts, votes):
                break
            if select_until is not None and p is not None and not sampling:
                # choosing: greedy answers first (a prompt's samples are no second source); after them, for a
                # thin fix only, the samples of the infill that shows the failure (short, and its prompt cached):
                # a different program of the same behaviour is evidence, and the same one a source if its greedy
                # answer differed (a rewrite's samples, ~100 tokens each, cost a selection's whole window)
                if samples and p.hinted:
                    later.append((p, False, samples))
                if not greedy:
                    continue
                samples = 0
            if p is not None:
                asked.add(p.key)
            stop = ctx.deadline if select_until is None else min(ctx.deadline, select_until)
            if time.monotonic() > stop:
                break
            if time.monotonic() + ctx.lead(p) > stop:  # its prompt would not be read in time; a shorter one may
                ctx.out_of_time |= stop == ctx.deadline
                continue
            cands = _candidates(ctx, base, p, greedy, samples, rnd, seen, votes, seeds, stop)
            for i, c in enumerate(cands):
                # the budget is the user's: no validation starts that would end past it (as long as the typical one)
                if time.monotonic() + (statistics.median(v.seconds for v in verdicts) if verdicts else 0) > ctx.deadline:
                    ctx.out_of_time = True
                    result.candidates["unvalidated"] += len(cands) - i
                    break
                v = _judge(ctx, base, c, before)
                if v is None:
                    continue
                verdicts.append(v)
            # a blind edit the choice would not offer (`unsupported`) starts no selection: the search goes on for
            # one it would, until a prompt writes that same program too (a second source) or another passes
            offered = [v for v in verdicts if v.plausible and not unsupported(
                v, len(votes.get(ast_key(v.candidate.text), ())), before)]
            if offered and select_until is None:
                c = offered[0].candidate
                select_until = time.monotonic() + cfg.select
                queue.sort(key=lambda q, c=c: _nearness(q[0], c))  # second opinions on the same place first
                if c.kind != "mutant":  # see `search`: a model's fix waits for second opinions on its place only
                    queue = [q for q in queue if _nearness(q[0], c) < 2]
                result.selection["first_plausible"] = round(time.monotonic() - ctx.t0, 2)
                if cfg.select > 0:
                    ctx.emit(ev.Selecting(cfg.select))
        plausible = [v for v in verdicts if v.plausible]
        if plausible or time.monotonic() > ctx.deadline or rnd == cfg.rounds:
            return plausible
        promising = [v for v in rank_verdicts(verdicts) if v.remaining < len(base_report.failing)
                     and not v.regressions and v.candidate.round == rnd]
        if promising:
            step = promising[0]
            base = dataclasses.replace(src, raw=step.candidate.data, text=step.candidate.text)
            with ctx.clock("tests"):
                base_report = run_baseline(ctx.ws, base)
            loc = relocalize(ctx, base, base_report)
            depth = 0
        else:
            depth += 1
        ctx.emit(ev.Round(rnd + 1, promising[0] if promising else None))
    return []


def _thin(verdicts: list[Verdict], votes: dict[str, set[str]]) -> bool:
    """One program passed, with fewer than three sources behind it: choose.py would call it high only with a
    second program that answers the same (or a doctest), which samples may write. Two programs that passed
    are evidence already: the differential check says whether they agree."""
    passed = {ast_key(v.candidate.text) for v in verdicts if v.plausible}
    return len(passed) == 1 and len(votes.get(next(iter(passed)), ())) < 3


def _queue(base: SourceFile, loc: Localization, report: TestReport, cfg: FixConfig, depth: int, asked: set[str]) -> list:
    """A round's prompts as (prompt, greedy, samples), those already sent left out."""
    return [(p, greedy, samples) for _, stage, greedy, samples in _prompts(base, loc, report, cfg, depth)
            for p in stage if (greedy or samples) and p.key not in asked]


def _candidates(ctx: RepairContext, base: SourceFile, p, greedy: bool, samples: int, rnd: int, seen: set, votes: dict,
                seeds: list[Candidate], stop: float) -> list[Candidate]:
    """One prompt's new candidates (None: the probe's mutants), each new to the search, with its bytes."""
    if p is None:
        cands = [c for c in seeds if ast_key(c.text) not in seen]
        seen.update(ast_key(c.text) for c in cands)
    else:
        ctx.emit(ev.Prompted(p, ctx.deadline - time.monotonic()))
        gen = ctx.generator()
        filled, cached, t0 = getattr(gen, "prefilled", 0), getattr(gen, "reused", 0), time.monotonic()
        with ctx.clock("generate"):
            cands, tokens = generate(base.text, [p], gen, samples=samples, temperature=ctx.cfg.temperature + 0.15 * rnd,
                                     greedy=greedy, seen=seen, round=rnd, deadline=stop, votes=votes)
        filled, cached = getattr(gen, "prefilled", 0) - filled, getattr(gen, "reused", 0) - cached
        ctx.result.tokens += tokens
        ctx.result.prompt_tokens["prefilled"] += filled
        ctx.result.prompt_tokens["cached"] += cached
        ctx.emit(ev.Generated(p, len(cands), tokens, filled, cached, time.monotonic() - t0))
    ctx.result.candidates["generated"] += len(cands)
    for c in cands:
        c.data = base.apply(c.edit)
    return cands


def _judge(ctx: RepairContext, base: SourceFile, c: Candidate, before: TestReport) -> Verdict | None:
    """The patch screen, then the tests: the candidate's verdict, or None when the screen refused it."""
    result = ctx.result
    screened = screen(base.text, c.text, c.edit.start_line, c.edit.end_line, len(c.edit.text.splitlines()),
                      span=c.span, path=ctx.src.path, root=ctx.src.root)
    if not screened.ok:
        result.candidates["rejected"] += 1
        result.rejected.append({"origin": c.origin, "reasons": screened.reasons})
        ctx.emit(ev.Rejected(c, screened.reasons))
        return None
    from .suspicion import suspicions, literals_of
    c.suspicions = suspicions(base.text, c.text, c.edit.start_line, c.edit.end_line, len(c.edit.text.splitlines()),
                              literals_of([before.tests[n].message for n in before.failing]))
    with ctx.clock("validate"):
        v = validate(ctx.ws, ctx.src, c, c.data, before)
    result.candidates["validated"] += 1
    ctx.emit(ev.Judged(v))
    return v


def _nearness(p: prompts.Prompt | None, c: Candidate) -> int:
    """Which prompts give a second opinion on a candidate that passed: another prompt for its span, then a
    rewrite of the function around it, then the rest (in their order)."""
    if p is None or not p.start_line <= c.edit.start_line <= p.end_line:
        return 2
    return 0 if p.kind == "infill" else 1


def select(ctx: RepairContext, plausible: list[Verdict], votes: dict[str, set[str]], before: TestReport):
    """Stage 4: the differential check over the plausible candidates (the likeliest 8), then the choice among
    them (choose.py)."""
    from .choose import choose
    from .differ import compare
    shortlist = choose(plausible, votes, None).ranked[:8]
    ids = {id(v): f"c{n}" for n, v in enumerate(shortlist)}
    ctx.emit(ev.Comparing(len(shortlist)))
    comparison = compare(ctx.ws, ctx.src, {ids[id(v)]: v.candidate.text for v in shortlist}, before,
                         generate=ctx.cfg.generated)
    ctx.emit(ev.Compared(comparison))
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
