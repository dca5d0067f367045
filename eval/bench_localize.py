"""Localization benchmark: top-1/3/5 span hit rates per signal and fused, and what localization costs.

    python eval/bench_localize.py [--records data/corpus/bugs.jsonl] [--split test] [--limit 150]
                                  [--tasks DIR] [--fit-tasks DIR]
                                  [--fit-split train] [--fit-limit 120] [--no-surprisal] [--out runs/localize]
                                  [--fit-exclude P1,P2] [--reuse [--rescore] | --extend] [--save-weights]
                                  [--no-infill] [--mutation] [--keep-weights] [--cv]

Bugs are the bundled examples plus the records of `--split` (the held-out projects by default), or with
`--tasks` / `--fit-tasks` benchmark task folders (the real-bug held-out and tune splits), run as they are.
Features a collecting run did not read (`--no-surprisal`, `--no-infill`) keep the runtime's weights when saved. For
each, one run of the visible tests records per-test lines (the same run `debugger fix` makes) and the
model's reads as debugger.localization.passes makes them: the surprisal pass, then the infill pass over the statements
the runtime's first-round weights rank first; with `--mutation`, the mutation probe over them too
(`debugger fix` makes either only when the weights use it). A hit at k: one of the first k statements
ranked contains the changed lines of the reference fix (for an inserted line, the statement before or
after the gap). The feature weights are fitted (a listwise linear ranker) on `--fit-split` bugs,
projects disjoint from the evaluated ones, and reported on `--split`: first every feature but the
second-round ones (or, with `--keep-weights`, the runtime's first round as it is), then the infill
features on top with the rest kept, then the mutation features with every other weight refit beside them
(shown also with the first round's kept; `--cv` picks between the two by leaving each fit project out in
turn, and scores the runtime's weights as they are on the fit projects they never saw). The first-round
weights stay what picks the statements the passes read (they scored what those weights ranked top, so
refit the first round, save, and recollect before fitting the second on new first-round weights).
`--save-weights` makes them the runtime's (both sets). Prints a table, writes results.json, report.md
and a chart.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


from debugger.config import FixConfig  # noqa: E402
from debugger.localization.passes import locate  # noqa: E402
from debugger.localization.ranking import (FEATURES, HAND_SET, INFILL, INFILL_K, MUTANT_K, MUTANT_TAIL, MUTATION,  # noqa: E402
                                           SURPRISAL, localize, weights_for)
from debugger.pipeline import run_baseline  # noqa: E402
from debugger.source import load  # noqa: E402
from debugger.workspace import Workspace  # noqa: E402

from debugger.eval.rank_fit import (KS, SINGLE, Case, cross_validate, first_round, fit, hit_rank, is_hit,  # noqa: E402
                           load_cases, project, rates, save_cases)
from debugger.eval.tasks import from_examples, from_records, load_bench  # noqa: E402


def collect(tasks, split: str, gen, on_progress, known: dict | None = None, kept: dict | None = None,
            on_case=None, infill: bool = True, mutation: bool = False) -> list[Case]:
    """`known`: id -> a Case from an earlier run whose surprisal is reused (the model pass does not
    depend on the tests, so a probe change needs only the test runs again). `kept`: id -> a Case taken
    whole (nothing reruns: `--extend` grows a run by the bugs it lacks). `on_case`: called with each
    newly collected Case (the bench saves it at once, so an interrupted run loses nothing). `mutation`:
    run the mutation probe over the top statements of the runtime's first ranking."""
    cases = []
    for i, t in enumerate(tasks, 1):
        on_progress(f"{split} {i}/{len(tasks)} {t.id}")
        try:
            src = load(t.project / t.file)
        except ValueError:
            continue
        old = (kept or {}).get(t.id)
        if old is not None and old.src.text == src.text:
            cases.append(old)
            continue
        t0 = time.monotonic()
        report = run_baseline(Workspace.of(src.root, FixConfig(test=t.test, test_timeout=10, timeout=300)), src)
        tests = time.monotonic() - t0
        if not report.failing:
            continue
        old = (known or {}).get(t.id)
        if old is not None and old.src.text == src.text:
            toks, inf, sur = old.tokens, old.infill, old.surprisal_seconds
        else:
            toks, inf, sur = model_reads(src, report, gen, infill)
        scores = {ln: sum(v) / len(v) for ln, v in toks.items()} if toks else None
        s, e = t.fix_lines or (0, -1)
        cases.append(Case(t.id, split, t.bug_kind or "", (s, e), tests, sur, src, report, scores, toks, inf))
        if mutation:
            m = mutation_reads(src, report, toks, t.test, report.seconds)
            cases[-1].mutation, cases[-1].mutation_seconds, cases[-1].mutants_run = m.scores, m.seconds, m.run
        if on_case:
            on_case(cases[-1])
    return cases


def model_reads(src, report, gen, infill: bool = True) -> tuple[dict | None, dict | None, float]:
    """The model's reads as debugger.localization.passes makes them, the infill pass too unless `infill` is False (the
    runtime's weights pick the statements it scores): per-line token NLLs, infill scores, seconds."""
    if gen is None:
        return None, None, 0.0
    _loc, reads = locate(src, report, gen, weights=weights_for(), infill=infill)
    return reads.surprisal, reads.infill, reads.seconds


def mutation_reads(src, report, tokens, command: str, seconds: float):
    """The mutation probe as `debugger fix` makes it: over the top MUTANT_TAIL statements of the first
    ranking by the runtime's weights, its loop held to the recording run's time (`seconds`)."""
    from debugger.localization.mutants import probe
    loc = localize(src, report, surprisal=tokens, weights=weights_for(first_round=True), top_k=MUTANT_TAIL)
    ws = Workspace.of(src.root, FixConfig(test=command, timeout=300))
    return probe(ws, src, report, loc.statements[:MUTANT_TAIL], budget=max(1.0, seconds))


def remutate(out: Path, cases: list[Case], projects: str) -> None:
    """Redo the saved cases' mutation probes from the task folders the collecting run wrote."""
    from debugger.eval.tasks import load_task
    chosen = [c for c in cases if projects == "all" or project(c) in projects.split(",")]
    for i, c in enumerate(chosen, 1):
        print(f"\r\033[Kmutating {i}/{len(chosen)} {c.id}", end="", file=sys.stderr, flush=True)
        where = (out / "tasks" / c.split / c.id, out / "tasks" / "examples" / c.id)
        folder = next((d for d in where if d.is_dir()), None)
        if folder is None:
            continue
        t = load_task(folder)
        src = load(t.project / t.file)  # the probe copies the project it lives in
        if src.text != c.src.text:
            continue
        m = mutation_reads(src, c.report, c.tokens or c.surprisal, t.test, c.test_seconds)
        c.mutation, c.mutation_seconds, c.mutants_run = m.scores, m.seconds, m.run
    print("\r\033[K", end="", file=sys.stderr)


def time_runs(tasks: list, n: int, mutation: bool = False) -> dict:
    """Plain runs of the visible tests (no probe, no tracing) next to the recording runs localization
    reads (and the mutation probe after each, with `mutation`), on the same `n` bugs, one after the
    other (so all see the same machine load)."""
    import os

    from debugger.sandbox import make_sandbox, remove_copy, scratch_copy
    from debugger.testrun import run_tests
    plain, recording, mutating = [], [], []
    for t in tasks[:n]:
        copy = scratch_copy(t.project)
        try:
            r = make_sandbox().run(t.test, copy, dict(os.environ, PYTHONDONTWRITEBYTECODE="1"), 300)
            rep = run_tests(copy, t.test, target=t.file, timeout=300, test_timeout=10)
        finally:
            remove_copy(copy)
        plain.append(r.seconds)
        recording.append(rep.seconds)
        if mutation and rep.failing:
            src = load(t.project / t.file)
            mutating.append((r.seconds, mutation_reads(src, rep, None, t.test, rep.seconds).seconds))
    if not plain:
        return {}
    out = {"bugs": len(plain), "plain_median_s": statistics.median(plain),
           "recording_median_s": statistics.median(recording),
           "ratio_median": statistics.median(b / a for a, b in zip(plain, recording) if a > 0)}
    if mutating:
        out |= {"mutation_median_s": statistics.median(m for _, m in mutating),
                "mutation_ratio_median": statistics.median(m / a for a, m in mutating if a > 0)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", default="data/corpus/bugs.jsonl")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=150)
    ap.add_argument("--tasks", metavar="DIR",
                    help="Evaluate these task folders (e.g. the real-bug held-out split that `python -m "
                         "debugger.eval.realbugs build` writes) instead of the examples and --records' --split.")
    ap.add_argument("--fit-tasks", metavar="DIR",
                    help="Fit on these task folders (e.g. the real-bug tune split) instead of --records' --fit-split.")
    ap.add_argument("--fit-split", default="train")
    ap.add_argument("--fit-limit", type=int, default=120)
    ap.add_argument("--fit-exclude", default="", metavar="P1,P2",
                    help="Projects left out of the fit bugs (e.g. tabulate,sqlparse: slow suites).")
    ap.add_argument("--no-surprisal", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="runs/localize")
    ap.add_argument("--reuse", action="store_true", help="Re-rank the cases saved by an earlier run (OUT/cases.jsonl).")
    ap.add_argument("--timing", type=int, default=20, metavar="N",
                    help="Time a plain test run beside the recording run on N bugs (0: skip).")
    ap.add_argument("--rescore", action="store_true",
                    help="With --reuse: redo every saved case's model reads, surprisal and infill (after a change to "
                         "how they are taken, or to the first-round weights).")
    ap.add_argument("--extend", action="store_true",
                    help="Keep the bugs already in OUT/cases.jsonl (and those an interrupted run saved) as they are; "
                         "collect only the missing ones.")
    ap.add_argument("--surprisal-from", metavar="CASES_JSONL",
                    help="Take each bug's model reads (surprisal, infill) from another run's cases.jsonl "
                         "(rerunning the tests, or with --reuse).")
    ap.add_argument("--no-infill", action="store_true",
                    help="Skip the infill pass when collecting (it costs ~12 s a bug).")
    ap.add_argument("--mutation", action="store_true",
                    help="Run the mutation probe on each collected bug (one more test run each).")
    ap.add_argument("--remutate", metavar="P1,P2", default="",
                    help="With --reuse: redo the mutation probe of the saved bugs of these projects ('all': every "
                         "one) from OUT/tasks (after a change to the probe).")
    ap.add_argument("--keep-weights", action="store_true",
                    help="Take the runtime's first-round weights as they are (repair/localization/weights.json) and "
                         "fit only the second-round features on top.")
    ap.add_argument("--cv", action="store_true",
                    help="Leave-one-project-out cross-validate the two mutation fits on the fit split and take the "
                         "better (top-3, then top-1) as the final weights.")
    ap.add_argument("--save-weights", action="store_true",
                    help="Write the fitted weights to repair/localization/weights.json (the runtime's defaults).")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cases.jsonl"
    gen = None
    if a.reuse:
        fit_cases, cases = load_cases(cache, a.fit_split), load_cases(cache, a.split)
        if a.surprisal_from:  # the surprisal of another run (same bugs, e.g. rescored), by id
            other = {c.id: c for sp in (a.fit_split, a.split) for c in load_cases(Path(a.surprisal_from), sp)}
            for c in fit_cases + cases:
                o = other.get(c.id)
                if o is not None and o.src.text == c.src.text:
                    c.tokens, c.surprisal, c.surprisal_seconds, c.infill = o.tokens, o.surprisal, o.surprisal_seconds, o.infill
        if a.rescore:
            from debugger.engines.hf import HFGenerator
            from debugger.engines.packs import SMALL_MODEL
            gen = HFGenerator(SMALL_MODEL, None, a.threads)
            for i, c in enumerate(fit_cases + cases, 1):
                print(f"\r\033[Krescoring {i}/{len(fit_cases) + len(cases)} {c.id}", end="", file=sys.stderr, flush=True)
                c.tokens, c.infill, c.surprisal_seconds = model_reads(c.src, c.report, gen, not a.no_infill)
                c.surprisal = {ln: sum(v) / len(v) for ln, v in c.tokens.items()} if c.tokens else None
            print("\r\033[K", end="", file=sys.stderr)
            save_cases(fit_cases + cases, cache)
        if a.remutate:
            remutate(out, fit_cases + cases, a.remutate)
            save_cases(fit_cases + cases, cache)
    else:
        known, kept = {}, {}
        partial = out / "cases.partial.jsonl"  # each case as it is collected; folded into the cache at the end
        if a.extend:
            kept = {c.id: c for path in (cache, partial) if path.exists() for split in (a.fit_split, a.split)
                    for c in load_cases(path, split)
                    if "<command>" not in c.report.tests}  # a run that never started (say, a missing plugin)
        elif partial.exists():
            partial.unlink()
        if a.surprisal_from:
            known = {c.id: c for split in (a.fit_split, a.split) for c in load_cases(Path(a.surprisal_from), split)}
        elif not a.no_surprisal:
            from debugger.engines.hf import HFGenerator
            from debugger.engines.packs import SMALL_MODEL
            gen = HFGenerator(SMALL_MODEL, None, a.threads)
        say = lambda m: print(f"\r\033[K{m}", end="", file=sys.stderr, flush=True)  # noqa: E731
        records = Path(a.records)
        skip = {p for p in a.fit_exclude.split(",") if p}
        if a.tasks:  # benchmark task folders (the real-bug splits): evaluated as they are, nothing copied
            evaluated = load_bench(Path(a.tasks))[:a.limit]
        else:
            evaluated = from_examples(out / "tasks" / "examples")
            if records.exists():
                evaluated += from_records(records, out / "tasks" / a.split, split=a.split, limit=a.limit)
        if a.fit_tasks:
            fitting = [t for t in load_bench(Path(a.fit_tasks)) if t.id.rsplit("-", 1)[0] not in skip][:a.fit_limit]
        else:
            fitting = from_records(records, out / "tasks" / a.fit_split, split=a.fit_split, limit=a.fit_limit,
                                   exclude=skip) if records.exists() and a.fit_limit else []
        keep = lambda c: save_cases([c], partial, append=True)  # noqa: E731
        fit_cases = collect(fitting, a.fit_split, gen, say, known, kept, keep, not a.no_infill, a.mutation)
        cases = collect(evaluated, a.split, gen, say, known, kept, keep, not a.no_infill, a.mutation)
        print("\r\033[K", end="", file=sys.stderr)
        save_cases(fit_cases + cases, cache)
        partial.unlink(missing_ok=True)
    with_surprisal = any(c.surprisal for c in cases)

    table = {name: rates(cases, w, f) for name, (w, f) in SINGLE.items() if with_surprisal or name != "surprisal"}
    table["fused (hand-set)"] = rates(cases, HAND_SET, "ochiai")
    if a.keep_weights:
        fitted = {f: w for f, w in weights_for(first_round=True).items() if w and f not in INFILL + MUTATION}
        table["fused (the runtime's first-round weights)"] = rates(cases, fitted, "ochiai")
    else:
        fitted = fit(fit_cases, with_surprisal) if fit_cases else dict(HAND_SET)
        table[f"fused (fitted on {a.fit_split})"] = rates(cases, fitted, "ochiai")
    first = dict(fitted)  # the first ranking's: it picks what the second-round passes read
    if any(c.infill for c in cases) and any(c.infill for c in fit_cases):
        table[f"infill (re-ranks the fused top {INFILL_K})"] = rates(cases, {"infill_rank": 1.0}, "ochiai")
        fitted = fit([c for c in fit_cases if c.infill], with_surprisal, second=fitted)
        table[f"fused + infill (fitted on {a.fit_split})"] = rates(cases, fitted, "ochiai")
    cv = {}
    if a.keep_weights and any(c.mutation for c in cases) and not any(c.mutation for c in fit_cases):
        # no fit bugs (--fit-limit 0): the shipped ranking as it is, e.g. with and without the model's reads
        table["fused + mutation, the runtime's weights as they are"] = rates(cases, weights_for(), "ochiai")
    if any(c.mutation for c in cases) and any(c.mutation for c in fit_cases):
        probed = [c for c in fit_cases if c.mutation]
        table[f"mutation (re-ranks the fused top {MUTANT_K})"] = rates(
            cases, {"mutant_kill": 1.0, "mutant_fix": 1.0}, "ochiai")
        base = dict(fitted)  # the first round's (and the infill's, when fitted)
        kept_fit = lambda t: fit(t, with_surprisal, second=base, free=MUTATION)  # noqa: E731
        # the probe's scores change what the other evidence is worth (a statement its mutants clear needs
        # less from the spectrum): refit every weight beside them; the first round still picks what it reads
        joint_fit = lambda t: fit(t, with_surprisal, second=base, free=first_round(with_surprisal) + MUTATION)  # noqa: E731
        table[f"fused + mutation, first-round weights kept (fitted on {a.fit_split})"] = rates(
            cases, kept_fit(probed), "ochiai")
        if a.keep_weights:
            table["fused + mutation, the runtime's weights as they are"] = rates(cases, weights_for(), "ochiai")
        chosen = "all refit"
        if a.cv:
            cv = cross_validate(probed, {"first-round weights kept": kept_fit, "all refit": joint_fit})
            chosen = cv["chosen"]
        fitted = (kept_fit if chosen == "first-round weights kept" else joint_fit)(probed)
        table[f"fused + mutation, {chosen} (fitted on {a.fit_split}" + (", chosen by cross-validation)" if cv else ")")] = \
            rates(cases, fitted, "ochiai")
    fit_rates = rates(fit_cases, fitted, "ochiai") if fit_cases else {}
    final = list(table)[-1]
    undone = {}
    if any(c.mutation for c in cases):
        # the corpus's bugs are mutants: where one of the probe's mutants undoes one, the probe all but
        # names the line. Shown apart, since a real bug is that simple less often.
        inv = [c for c in cases if any(is_hit(c, s, e) and v["fix"] >= 1.0 for (s, e), v in (c.mutation or {}).items())]
        for name, sub in (("a mutant undoes the bug", inv), ("none does", [c for c in cases if c not in inv])):
            undone[name] = {"n": len(sub), "before": rates(sub, first, "ochiai"), "after": rates(sub, fitted, "ochiai")}
    kinds = sorted({c.kind for c in cases})
    by_kind = {k: rates([c for c in cases if c.kind == k], fitted, "ochiai") | {"n": sum(c.kind == k for c in cases)}
               for k in kinds}
    timing = {"test_run_median_s": statistics.median(c.test_seconds for c in cases) if cases else None,
              "surprisal_median_s": statistics.median(c.surprisal_seconds for c in cases) if with_surprisal else None,
              "mutation_median_s": statistics.median(c.mutation_seconds for c in cases if c.mutation)
              if any(c.mutation for c in cases) else None,
              "mutants_run_median": statistics.median(c.mutants_run for c in cases if c.mutation)
              if any(c.mutation for c in cases) else None}
    if a.timing:
        from debugger.eval.tasks import load_task
        evaluated_tasks = [load_task(d) for parent in (out / "tasks" / "examples", out / "tasks" / a.split)
                           if parent.is_dir() for d in sorted(parent.iterdir()) if (d / "task.json").is_file()]
        timing["paired"] = time_runs(evaluated_tasks, a.timing, mutation=any(c.mutation for c in cases))
    elif (out / "results.json").exists():  # not re-measured: keep the last run's figure
        timing["paired"] = json.loads((out / "results.json").read_text())["timing"].get("paired", {})
    result = {"bugs": len(cases), "fit_bugs": len(fit_cases), "split": a.split, "fit_split": a.fit_split,
              "fit_projects": sorted({project(c) for c in fit_cases}),
              "table": table, "fitted": {"weights": fitted, "formula": "ochiai", "fit_rates": fit_rates},
              "by_kind": by_kind, "timing": timing, "mutation_split": undone, "cv": cv,
              "ranks": {c.id: {"kind": c.kind, "ochiai": hit_rank(c, *SINGLE["ochiai"]),
                               "fitted": hit_rank(c, fitted, "ochiai")} for c in cases}}
    (out / "results.json").write_text(json.dumps(result, indent=2))
    report = render(result)
    (out / "report.md").write_text(report)
    chart(table, out / "hits.png")
    if a.save_weights:
        from debugger.localization.ranking import WEIGHTS_FILE
        from debugger.provenance import provenance
        kept = {}
        if a.keep_weights and WEIGHTS_FILE.exists():  # the first round came from an earlier fit: say which
            old = json.loads(WEIGHTS_FILE.read_text())
            kept = {"first_round": {k: v for k, v in (old.get("first_round") or {
                k: old.get(k) for k in ("fitted_on", "fit_rates", "heldout_rates", "heldout_bugs")}
                | {"git_sha": old.get("provenance", {}).get("git_sha")}).items() if k != "weights"}}
        if first != {f: w for f, w in fitted.items() if f not in INFILL + MUTATION}:  # refit beside the probe
            kept.setdefault("first_round", {"fitted_on": {"split": a.fit_split, "bugs": len(fit_cases)},
                                            "fit_rates": rates(fit_cases, first, "ochiai"),
                                            "heldout_rates": rates(cases, first, "ochiai")})["weights"] = first
        # the model's reads the cases lack (collected --no-surprisal / --no-infill): their features were all 0 here,
        # so the fit says nothing of them; they keep the runtime's weights (the second look still reads surprisal)
        unread = [f for f in FEATURES if (f in SURPRISAL and not with_surprisal)
                  or (f in INFILL and not any(c.infill for c in fit_cases))]
        carried = {f: v for f, v in weights_for().items() if f in unread and v}
        if carried:
            fitted = {f: v for f, v in fitted.items() if f not in carried} | carried
            kept["carried"] = {"features": sorted(carried), "why": "not read in the fit's cases: kept as they were"}
            if "weights" in kept.get("first_round", {}):
                kept["first_round"]["weights"] = {f: v for f, v in first.items() if f not in carried} | {
                    f: v for f, v in weights_for(first_round=True).items() if f in carried and v}
        WEIGHTS_FILE.write_text(json.dumps(kept | {
            "weights": fitted, "formula": "ochiai", "fitted_on": {"split": a.fit_split, "bugs": len(fit_cases),
                                                                 "projects": result["fit_projects"]},
            "fit_rates": fit_rates, "heldout_rates": table[final],
            "heldout_bugs": len(cases), "made_by": "eval/bench_localize.py --save-weights",
            **({"chosen_by": {"leave_one_project_out": cv["rates"], "chosen": cv["chosen"]}} if cv else {}),
            "provenance": provenance()}, indent=1) + "\n")
        print(f"weights written to {WEIGHTS_FILE}", file=sys.stderr)
    print(report)
    return 0


def render(r: dict) -> str:
    lines = [f"Localization on {r['bugs']} bugs (examples + `{r['split']}` split); weights fitted on "
             f"{r['fit_bugs']} `{r['fit_split']}` bugs.", "", "| ranking | top-1 | top-3 | top-5 |", "|---|---|---|---|"]
    for name, v in r["table"].items():
        lines.append(f"| {name} | {v['top1']:.0%} | {v['top3']:.0%} | {v['top5']:.0%} |")
    f = r["fitted"]
    lines += ["", f"Fitted: {f['weights']} with {f['formula']}.", "", "| bug kind | n | top-1 | top-3 | top-5 |",
              "|---|---|---|---|---|"]
    for k, v in r["by_kind"].items():
        lines.append(f"| {k} | {v['n']} | {v['top1']:.0%} | {v['top3']:.0%} | {v['top5']:.0%} |")
    if r.get("mutation_split"):
        lines += ["", "Before and after the mutation features, split by whether one of the probe's mutants of the "
                  "buggy statement makes every failing test pass (the corpus's bugs are mutants themselves):", "",
                  "| bugs | n | top-1 | top-3 | top-5 |", "|---|---|---|---|---|"]
        for k, v in r["mutation_split"].items():
            b, a = v["before"], v["after"]
            cells = " | ".join(f"{b[f'top{n}']:.0%} -> {a[f'top{n}']:.0%}" for n in KS)
            lines.append(f"| {k} | {v['n']} | {cells} |")
    cv = r.get("cv")
    if cv:
        rate = lambda v: " / ".join(f"{v[f'top{n}']:.0%}" for n in KS)  # noqa: E731
        unseen = cv["unseen_by_runtime"]
        lines += ["", f"Leave-one-project-out on the {cv['bugs']} probed fit bugs of {', '.join(cv['projects'])} (each "
                  "project ranked by weights fitted on the others; top-1 / top-3 / top-5)"
                  + (f"; last column: only {', '.join(unseen)}, which the runtime's weights were not fitted on" if unseen
                     else "") + ":", "", "| fitting | all projects |" + (" unseen by the runtime's fit |" if unseen else ""),
                  "|---|---|" + ("---|" if unseen else "")]
        for name in cv["by_project"]:
            whole = rate(cv["rates"][name]) if name in cv["rates"] else "(in its own fit)"
            lines.append(f"| {name} | {whole} |" + (f" {rate(cv['rates_unseen'][name])} |" if unseen else ""))
        lines += ["", f"Chosen by it: {cv['chosen']}.", "", "| project | n | " + " | ".join(cv["by_project"]) + " |",
                  "|---|---|" + "---|" * len(cv["by_project"])]
        own = lambda name, p: name in cv["rates"] or p not in cv["runtime_fitted_on"]  # noqa: E731
        for p in cv["projects"]:
            lines.append(f"| {p} | {cv['by_project'][cv['chosen']][p]['n']} | "
                         + " | ".join(rate(v[p]) + ("" if own(n, p) else " (in its fit)")
                                      for n, v in cv["by_project"].items()) + " |")
    t = r["timing"]
    lines += ["", f"Cost: the recording test run takes {t['test_run_median_s']:.2f}s (median; it is the run "
              f"`debugger fix` makes anyway), the model's reads (surprisal, and infill where taken) "
              + (f"{t['surprisal_median_s']:.2f}s." if t["surprisal_median_s"] is not None else "was skipped.")]
    if t.get("mutation_median_s") is not None:
        lines[-1] += (f" The mutation probe (one more test session, its loop held to the recording run's time) "
                      f"{t['mutation_median_s']:.2f}s, {t['mutants_run_median']:.0f} mutants run (medians).")
    p = t.get("paired") or {}
    if p:
        lines += ["", f"On {p['bugs']} of the bugs, run back to back: one plain run of the same tests (no probe) "
                  f"{p['plain_median_s']:.2f}s, the recording run {p['recording_median_s']:.2f}s (medians; "
                  f"recording/plain {p['ratio_median']:.2f}x)."
                  + (f" The mutation probe after it {p['mutation_median_s']:.2f}s (probe/plain "
                     f"{p['mutation_ratio_median']:.2f}x): the one extra test run localization adds."
                     if p.get("mutation_median_s") is not None else " Localization adds no other test run.")]
    return "\n".join(lines) + "\n"


def chart(table: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(table)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(KS)
    for i, k in enumerate(KS):
        ax.bar([x + i * width for x in range(len(names))], [table[n][f"top{k}"] * 100 for n in names], width,
               label=f"top-{k}")
    ax.set_xticks([x + width for x in range(len(names))], names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("bugs localized (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    ax.set_title("Fault localization: hit rate per signal and fused")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
