"""The eval runner and report, on tiny tasks with the fake model (the real model runs in test_slow_*)."""
import json

import pytest

from conftest import FIXTURES, fixed, run_cli
from debugger.eval import report, runner, tasks

pytestmark = pytest.mark.integration  # whole runs: training, eval, data builds (see conftest)


@pytest.fixture
def bench(tmp_path):
    """Two tasks: calc (with a hidden judge) and helper (no judge)."""
    out = tmp_path / "bench"
    judge = tmp_path / "judge_calc.py"
    judge.write_text("from calc import mul\n\ndef test_hidden():\n    assert mul(5, 0) == 0\n")
    tasks.write_task(out, tasks.Task("calc", "calc.py", tasks.PYTEST, bug_kind="operator", fix_lines=[6, 6]),
                     FIXTURES / "calc", judge)
    tasks.write_task(out, tasks.Task("helper", "names.py", tasks.PYTEST, bug_kind="helper", fix_lines=[2, 2]),
                     FIXTURES / "helper")
    return out


def test_task_format_round_trips(bench):
    loaded = tasks.load_bench(bench)
    assert [t.id for t in loaded] == ["calc", "helper"]
    assert loaded[0].judge and "../judge_test.py" in loaded[0].judge and loaded[1].judge is None
    assert (bench / "calc" / "judge_test.py").is_file() and not (bench / "calc" / "task" / "judge_test.py").exists()
    with pytest.raises(tasks.TaskError):
        tasks.load_bench(bench / "calc")


def test_examples_converter(tmp_path):
    made = tasks.from_examples(tmp_path / "ex")
    assert len(made) >= 6
    assert all(t.judge and t.fix_lines and (t.project / t.file).is_file() for t in made)
    assert not list((tmp_path / "ex").rglob("bug.json"))


def test_run_is_resumable_and_measures(bench, tmp_path):
    run_dir = tmp_path / "run"
    # a fake model per task: the reference fix of that task
    rows = []
    for t in tasks.load_bench(bench):
        rows += runner.run([t], ["default"], run_dir, time_limit=120,
                           extra=["--model", f"fake:{fixed(t.id)}", "--samples", "0"])
    by_task = {r["task"]: r for r in rows}
    assert by_task["calc"]["fixed"] and by_task["calc"]["correct"] is True
    assert by_task["calc"]["loc_rank"] == 1 and by_task["calc"]["regressions"] == 0 and by_task["calc"]["localized"]
    assert by_task["helper"]["fixed"] and by_task["helper"]["correct"] is None
    assert by_task["calc"]["peak_rss_mb"] > 0 and "trace" not in by_task["calc"]
    trace = [json.loads(ln) for ln in (run_dir / "traces" / "default" / "calc.jsonl").read_text().splitlines()]
    assert any(r["event"] == "verdict" and r["plausible"] and "*" in r["edit"]["text"] for r in trace)
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    again = runner.run(tasks.load_bench(bench), ["default"], run_dir, extra=["--model", "fake:/nope.py"])
    assert len(again) == 2 and (run_dir / "results.jsonl").read_text().splitlines() == lines  # nothing rerun
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["git_sha"] and "default" in prov["configs"] and prov["machine"]["cores"]


def test_judge_catches_a_fix_that_only_fools_the_visible_tests(bench, tmp_path):
    overfit = tmp_path / "overfit.py"
    overfit.write_text(fixed("calc").read_text().replace("return a * b", "return 12 if (a, b) == (3, 4) else 9"))
    rows = runner.run(tasks.load_bench(bench)[:1], ["naive"], tmp_path / "run",
                      extra=["--model", f"fake:{overfit}", "--samples", "0"])
    assert rows[0]["fixed"] and rows[0]["correct"] is False


def test_a_repair_that_fixes_nothing_is_not_judged(tmp_path):
    """Judging the unchanged bug can only say "wrong", and a hang's hidden suite runs to its timeout (10 min)."""
    marker = tmp_path / "judged"
    judge = tmp_path / "judge_calc.py"
    judge.write_text(f"open({str(marker)!r}, 'w').close()\n\n\ndef test_hidden():\n    pass\n")
    tasks.write_task(tmp_path / "bench", tasks.Task("calc", "calc.py", tasks.PYTEST, fix_lines=[6, 6]),
                     FIXTURES / "calc", judge)
    bench = tasks.load_bench(tmp_path / "bench")
    rows = runner.run(bench, ["naive"], tmp_path / "run",
                      extra=["--model", f"fake:{FIXTURES / 'calc' / 'calc.py'}", "--samples", "0"])  # the bug again
    assert rows[0]["fixed"] is False and rows[0]["correct"] is False and not marker.exists()
    rows = runner.run(bench, ["naive"], tmp_path / "run2", extra=["--model", f"fake:{fixed('calc')}", "--samples", "0"])
    assert rows[0]["correct"] is True and marker.exists()  # a fix is judged


def test_report_writes_markdown_html_and_charts(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows = [
        {"task": "a", "config": "default", "bug_kind": "op", "status": "fixed", "fixed": True, "correct": True,
         "seconds": 10.0, "tokens": 20, "generated": 2, "validated": 2, "loc_rank": 1, "regressions": 0,
         "peak_rss_mb": 900, "localized": True, "confidence": "high", "selection_seconds": 4.0,
         "winner": {"origin": "mutant line 3: > -> >=", "round": 0}},
        {"task": "b", "config": "default", "bug_kind": "hang", "status": "not_fixed", "fixed": False,
         "correct": False, "seconds": 30.0, "tokens": 200, "generated": 9, "validated": 9, "loc_rank": 4,
         "regressions": 0, "peak_rss_mb": 950, "localized": True},
        {"task": "a", "config": "naive", "bug_kind": "op", "status": "not_fixed", "fixed": False, "correct": False,
         "seconds": 90.0, "tokens": 900, "generated": 3, "validated": 3, "loc_rank": None, "regressions": 0,
         "peak_rss_mb": 1000},
        {"task": "b", "config": "naive", "bug_kind": "hang", "status": "fixed", "fixed": True, "correct": False,
         "seconds": 120.0, "tokens": 1000, "generated": 3, "validated": 3, "loc_rank": None, "regressions": 0,
         "peak_rss_mb": 1000, "confidence": "low", "alternatives": 1, "winner": {"origin": "naive greedy", "round": 0}},
    ]
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "provenance.json").write_text(json.dumps({"git_sha": "0123456789abcdef", "machine": {"cores": 2},
                                                         "engine_build": "AVX AVX2 FMA AVX512 AVX512_VNNI"}))
    s = report.summarize(rows)
    assert s["default"]["fix_rate"] == 0.5 and s["default"]["hit_at"] == {1: 0.5, 3: 0.5, 5: 1.0}
    assert s["default"]["median_seconds"] == 20.0 and s["naive"]["tokens_per_fix"] == 1900
    assert s["naive"]["hit_at"] == {1: None, 3: None, 5: None}
    assert s["default"]["precision"] == 1.0  # its one reported fix is correct
    assert (s["default"]["high"], s["default"]["high_correct"], s["default"]["selection_median_seconds"]) == (1, 1, 4.0)
    assert (s["naive"]["wrong"], s["naive"]["wrong_flagged"], s["naive"]["high"]) == (1, 1, 0)  # low: flagged
    assert report.ratios(s)["median_seconds"] == round(20 / 105, 2)
    rows[0]["passing_correct"] = [True, False, None]  # the chosen one right, one wrong, one that did not apply
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = report.summarize(rows)
    assert (s["default"]["choice_tasks"], s["default"]["chosen_correct"], s["default"]["random_correct"]) == (1, 1, 0.5)
    assert report.by_source(rows) == {"default": {"probe mutant": {"claimed": 1, "correct": 1}},
                                      "naive": {"naive": {"claimed": 1, "correct": 0}}}
    assert report.by_confidence(rows)["naive"] == {"low": {"claimed": 1, "correct": 0, "precision": 0.0}}
    assert report.source({"winner": {"origin": "infill greedy @3-3", "round": 2}}) == "feedback round"
    assert report.source({"winner": {"origin": "mutant line 4: truth -> is not None", "shape": True}}) == "probe shape"
    md, page = report.write(run_dir)
    text = md.read_text()
    assert "| default | 1/1 | 0/0 | 0/0 | 0/0 | 0/0 | 0/0 |" in text  # fixes by source: the probe's mutant
    assert "| naive | – | – | 0/1 (0%) |" in text  # claims by confidence
    assert "chosen candidate was correct 1 times; a choice at random" in text
    assert "| default | 2 | 50% | 50% | 100% |" in text and "![fix_rate.png](fix_rate.png)" in text
    for png in ("fix_rate.png", "by_kind.png", "time.png", "tokens.png", "hit_at_k.png"):
        assert (run_dir / png).stat().st_size > 1000
    assert "<table>" in page.read_text()
    # the README's results table comes from the run, between its markers; the rest is left byte-exact
    p = report.paired(rows, "default", "naive")
    assert (p["only_a"], p["only_b"], p["a_faster"], round(p["median_time_ratio"], 3)) == (1, 0, 2, round((10 / 90 + 30 / 120) / 2, 3))
    # 60 paired tasks, 10 won and 2 lost: +13.3 points, Wald interval for paired proportions, exact McNemar
    d = report.paired_difference(10, 2, 60)
    assert round(d["difference"], 4) == 0.1333 and [round(x, 4) for x in d["ci95"]] == [0.0253, 0.2413]
    assert round(d["p_mcnemar"], 5) == round(2 * (1 + 12 + 66) / 4096, 5)
    assert report.paired_difference(0, 0, 0)["ci95"] is None and report.paired_difference(3, 3, 10)["p_mcnemar"] == 1.0
    readme = tmp_path / "README.md"
    before, after = "# tool\n\nintro\n\n", "\n\n## Safety\n"
    readme.write_text(before + report.README_START + "\nold table\n" + report.README_END + after)
    code, out, err, _ = run_cli("eval", "report", str(run_dir), "--readme", str(readme))
    text = readme.read_text()
    assert code == 0 and text.startswith(before) and text.endswith(after) and "old table" not in text, err
    assert "| default | 2 | 1 | 1 | 100% | 0 (0 high, 0 medium, 0 low) | 50% / 50% / 100% | 20.0 | 220.0 | 0.9 GB |" in text
    assert "| naive | 2 | 0 | 1 | 0% | 1 (0 high, 0 medium, 1 low) | – / – / – |" in text
    assert "Fixes of `default` by source, correct of claimed: probe mutant 1/1." in text
    assert "`default` against `naive` on the same 2 tasks: 1 fixed correctly by `default` only, 0 by `naive` only " \
           "(difference +50.0 points, 95% CI -19.3 to +100.0, McNemar p 1); `default` faster on 2, median time " \
           "ratio 0.18." in text
    assert "[run/report.md](run/report.md)" in text
    assert "at commit `0123456`, 2 CPU cores" in text and "llama.cpp compiled for AVX-512" in text
    # an older build's run of the same tasks, beside this one: labelled by its commit and paired
    older = tmp_path / "older"
    older.mkdir()
    (older / "results.jsonl").write_text(json.dumps({**rows[0], "correct": False, "fixed": False}) + "\n")
    (older / "provenance.json").write_text(json.dumps({"git_sha": "c418a62aaaa"}))
    code, _, err, _ = run_cli("eval", "report", str(run_dir), "--readme", str(readme), "--beside", str(older))
    text = readme.read_text()
    assert code == 0 and "the same tasks run by commit `c418a62`" in text and "| default@c418a62 | 1 | 0 | 0 |" in text, err
    assert "`default` against `default@c418a62` on the same 1 tasks: 1 fixed correctly by `default` only" in text
    code, _, err, _ = run_cli("eval", "report", str(run_dir), "--readme", str(readme), "--beside", str(tmp_path))
    assert code == 2 and "--beside takes a run directory" in err
    readme.write_text("# no markers\n")
    code, _, err, _ = run_cli("eval", "report", str(run_dir), "--readme", str(readme))
    assert code == 2 and "no results block" in err and readme.read_text() == "# no markers\n"


def test_eval_cli_errors(cli, tmp_path):
    code, _, err, _ = cli("eval", str(tmp_path))
    assert code == 2 and "no tasks" in err
    code, _, err, _ = cli("eval", "examples", "--config", "nope", "--out", str(tmp_path / "r"))
    assert code == 2 and "unknown eval config" in err
    code, _, err, _ = cli("eval", "report", str(tmp_path))
    assert code == 2 and "results.jsonl" in err


def test_tasks_from_records_use_the_pinned_source_with_the_bug_in_place(tmp_path, monkeypatch):
    from debugger.data import corpus, schema
    monkeypatch.setattr(corpus, "PROJECTS", [corpus.Project("calc", "0", "MIT", tasks.PYTEST)])
    monkeypatch.setattr(corpus, "fetch", lambda p, dest: FIXTURES / "calc")
    good = fixed("calc").read_text()
    buggy = good.replace("return a * b", "return a - b")
    rec = schema.BugRecord(project="calc", path="calc.py", buggy=buggy, fixed=good, start_line=6, end_line=6,
                           fixed_span="    return a * b\n", failing_tests=["tests/test_calc.py::test_mul"],
                           failure="assert -1 == 12", test_command="python -m pytest -q --cov=calc",  # stale: plugin gone
                           bug_kind="arithmetic_swap",
                           split="test")
    other = schema.BugRecord(**{**rec.__dict__, "id": "", "split": "train", "buggy": buggy + "\n"})
    src = tmp_path / "bugs.jsonl"
    schema.write_jsonl(src, [rec, other])
    assert tasks.from_records(src, tmp_path / "none", exclude={"calc"}) == []
    made = tasks.from_records(src, tmp_path / "bench")
    assert len(made) == 1
    t = made[0]
    assert (t.project / "calc.py").read_text() == buggy and t.fix_lines == [6, 6]
    assert t.test == f"{tasks.PYTEST} tests/test_calc.py" and t.judge == tasks.PYTEST  # the pinned command
    rows = runner.run(made, ["default"], tmp_path / "run", extra=["--model", f"fake:{fixed('calc')}", "--samples", "0"])
    assert rows[0]["fixed"] and rows[0]["correct"]


def test_localization_bench_ranks_as_localize_does_and_fits(tmp_path):
    """The bench's fast matrix ranking must agree with localize() itself, its fit must not do worse on
    the cases it was fitted on than the weights it starts from, and its cases cache must round-trip."""
    from debugger.eval import bench_localize as bl
    from debugger.localization.ranking import HAND_SET, localize
    cases = bl.collect(tasks.from_examples(tmp_path / "ex"), "test", None, lambda m: None)
    assert len(cases) >= 6 and all(c.report.failing for c in cases)
    weights = {"spectrum": 0.7, "branch": 0.3, "traceback": 1.0, "type_return": 0.2, "syntax": 10}
    for c in cases:
        loc = localize(c.src, c.report, weights=weights, top_k=10_000)
        first = next((i for i, st in enumerate(loc.statements, 1) if bl.is_hit(c, st.start_line, st.end_line)), None)
        assert bl.hit_rank(c, weights, "ochiai") == first, c.id
    fitted = bl.fit(cases, surprisal=False, steps=50)
    assert fitted["syntax"] == HAND_SET["syntax"]  # not learned: too few broken files
    bl.save_cases(cases, tmp_path / "cases.jsonl")
    again = bl.load_cases(tmp_path / "cases.jsonl", "test")
    assert [bl.hit_rank(c, fitted, "ochiai") for c in again] == [bl.hit_rank(c, fitted, "ochiai") for c in cases]
    # --extend: a saved bug whose source is unchanged is taken whole, nothing reruns; the rest are collected
    kept = {c.id: c for c in again[1:]}
    calls = []
    real = bl.run_baseline
    bl.run_baseline = lambda *a: calls.append(a) or real(*a)
    try:
        saved = []
        grown = bl.collect(tasks.from_examples(tmp_path / "ex2"), "test", None, lambda m: None, kept=kept,
                           on_case=saved.append)
    finally:
        bl.run_baseline = real
    assert len(calls) == 1 and [c.id for c in grown] == [c.id for c in cases]
    assert grown[1:] == again[1:] and saved == grown[:1]  # only the newly collected case is handed on


def synthetic_bugs(monkeypatch, count: int, width: int, seed: int, mark: str, decoy: str, draw, clear_decoy: bool,
                   projects: int = 0):
    """`count` bugs of `width` candidates whose spectrum ties: `mark` is set on the buggy one only, `decoy`
    drawn at random for all (cleared on the buggy one when `clear_decoy`); with `projects`, the bugs are
    dealt round-robin to that many projects (ids `pN-i`). The bench's matrix is patched to serve them;
    returns the cases."""
    import numpy as np

    from debugger.eval import rank_fit
    from debugger.localization.ranking import FEATURES
    rng = np.random.default_rng(seed)
    fake = {}
    for i in range(count):
        x = np.zeros((width, len(FEATURES)))
        x[:, FEATURES.index("spectrum")] = 1.0
        x[:, FEATURES.index(decoy)] = draw(rng, width)
        bug = int(rng.integers(0, width))
        x[bug, FEATURES.index(mark)] = 1.0
        if clear_decoy:
            x[bug, FEATURES.index(decoy)] = 0.0
        hits = np.zeros(width, dtype=bool)
        hits[bug] = True
        fake[f"p{i % projects}-{i}" if projects else str(i)] = (x, np.arange(width, dtype=float) + 1, hits)
    monkeypatch.setattr(rank_fit, "matrix", lambda case, formula: fake[case.id])
    return [rank_fit.Case(i, "train", "k", (0, 0), 0, 0) for i in fake]


def test_localization_fit_learns_the_feature_that_marks_the_bug(monkeypatch):
    """Synthetic bugs where only `branch` tells the buggy statement apart (spectrum ties, and a
    misleading type prior): the fitted ranker must put it first where the hand-set weights do not."""
    from debugger.eval import bench_localize as bl
    from debugger.localization.ranking import HAND_SET
    cases = synthetic_bugs(monkeypatch, 40, 8, 0, "branch", "type_return", lambda rng, n: rng.integers(0, 2, n), True)
    assert bl.rates(cases, HAND_SET, "ochiai")["top1"] < 0.5
    fitted = bl.fit(cases, surprisal=False, steps=400)
    assert fitted["branch"] > 0 and bl.rates(cases, fitted, "ochiai")["top1"] == 1.0


@pytest.mark.parametrize("free,mark", [("INFILL", "infill_regret_rank"), ("MUTATION", "mutant_fix")])
def test_localization_second_round_fits_only_its_own_features(monkeypatch, free, mark):
    """The infill pass and the mutation probe scored what the first-round weights ranked top: their fit
    must keep those weights as they are and learn only their own, here the only feature that tells the
    bug apart."""
    from debugger.eval import bench_localize as bl
    from debugger.localization import ranking as localize
    own = getattr(localize, free)
    cases = synthetic_bugs(monkeypatch, 30, 6, 1, mark, "recent", lambda rng, n: rng.random(n), False)
    first = {"spectrum": 1.0, "recent": 2.0, "syntax": 10.0}
    second = bl.fit(cases, surprisal=True, steps=300, second=first, free=own)
    assert {f: v for f, v in second.items() if f not in own} == first
    assert second[mark] > 2.0 and bl.rates(cases, second, "ochiai")["top1"] == 1.0
    assert bl.rates(cases, first, "ochiai")["top1"] < 0.5
    # and the first round never touches the second round's features
    assert not set(bl.fit(cases, surprisal=True, steps=50)) & set(localize.INFILL + localize.MUTATION)


def test_localization_refit_beside_the_probe_unlearns_what_it_makes_redundant(monkeypatch):
    """With the probe's scores, a first-round weight that misleads (here `recent`) is refit too: the
    joint fit lowers it and ranks every bug first, where keeping it leaves some behind."""
    from debugger.eval import bench_localize as bl
    from debugger.eval.rank_fit import first_round
    from debugger.localization.ranking import MUTATION
    cases = synthetic_bugs(monkeypatch, 30, 6, 2, "mutant_fix", "recent", lambda rng, n: rng.random(n) * 3, False)
    first = {"spectrum": 1.0, "recent": 2.0, "syntax": 10.0}
    kept = bl.fit(cases, surprisal=True, steps=40, second=first, free=MUTATION)
    joint = bl.fit(cases, surprisal=True, steps=40, second=first, free=first_round(True) + MUTATION)
    assert joint["recent"] < first["recent"] and joint["syntax"] == 10.0
    assert bl.rates(cases, joint, "ochiai")["top1"] == 1.0 > bl.rates(cases, kept, "ochiai")["top1"]


def test_cross_validation_holds_each_project_back_and_picks_the_fitting_that_generalizes(monkeypatch):
    """Leave-one-project-out: no fold's weights see the project they rank; of two fittings, the one
    that unlearns a misleading first-round weight (`recent`) ranks the held-back projects better and is
    chosen; the runtime's weights are scored apart on the projects their own fit never saw."""
    from debugger.eval import rank_fit
    from debugger.eval.rank_fit import first_round
    from debugger.localization.ranking import MUTATION
    cases = synthetic_bugs(monkeypatch, 36, 6, 3, "mutant_fix", "recent", lambda rng, n: rng.random(n) * 3, False,
                           projects=3)
    first = {"spectrum": 1.0, "recent": 2.0, "syntax": 10.0}
    seen = []

    ranks = rank_fit.project_cv(cases, lambda train: seen.append({rank_fit.project(c) for c in train}) or first)
    assert sorted(ranks) == ["p0", "p1", "p2"] and all(len(r) == 12 for r in ranks.values())
    assert seen == [{"p1", "p2"}, {"p0", "p2"}, {"p0", "p1"}]
    cv = rank_fit.cross_validate(cases, {
        "kept": lambda t: first,
        "all refit": lambda t: rank_fit.fit(t, True, steps=40, second=first, free=first_round(True) + MUTATION)})
    assert cv["chosen"] == "all refit" and cv["rates"]["all refit"]["top1"] > cv["rates"]["kept"]["top1"]
    assert cv["unseen_by_runtime"] == ["p0", "p1", "p2"] and "the runtime's weights" in cv["rates_unseen"]
    assert sum(v["n"] for v in cv["by_project"]["kept"].values()) == 36


def test_fix_targets_for_an_insertion_are_the_statements_around_the_gap(tmp_path):
    """A record whose fix only adds lines (end < start) is held by the statement before the gap or the
    first after it, past comments and a bare `try:`; the runner's rank and the bench's agree."""
    text = ("def f(x):\n"            # 1
            "    y = x + 1\n"        # 2
            "    # a comment\n"      # 3  <- the fix adds a line before 3
            "    try:\n"             # 4
            "        z = y * 2\n"    # 5
            "    except ValueError:\n"
            "        z = 0\n"
            "    return z\n")
    assert tasks.fix_targets([3, 2], text) == [(2, 2), (5, 5)]
    assert tasks.fix_targets([5, 5], text) == [(5, 5)] and tasks.fix_targets(None, text) == []
    spans = [{"start_line": 8, "end_line": 8}, {"start_line": 5, "end_line": 5}, {"start_line": 2, "end_line": 2}]
    assert runner.loc_rank(spans, tasks.fix_targets([3, 2], text)) == 2
    assert runner.loc_rank(spans, tasks.fix_targets([4, 4], text)) is None  # `try:` alone: no span holds it


def test_default_eval_config_is_the_shipped_default(tmp_path):
    from debugger.config import resolve
    assert resolve(tmp_path, config_file=runner.config_path("default")) == resolve(tmp_path)


def test_provenance_leaves_the_runs_own_output_out_of_git_dirty(tmp_path, monkeypatch):
    """A run writing into the repository (docs/eval-*) is not its own 'uncommitted change', nor is an untracked
    file; a tracked file changed anywhere else is."""
    import subprocess

    from debugger import provenance as pv
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "a.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    monkeypatch.setattr(pv, "REPO", repo)
    out = repo / "docs" / "run"
    out.mkdir(parents=True)
    (out / "report.md").write_text("old\n")
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "a report"], check=True)
    (out / "report.md").write_text("new\n")  # the run rewrites its committed report
    (repo / "link").symlink_to(repo / "a.py")  # untracked: no code that ran changed
    assert pv.provenance(out)["git_dirty"] is False
    assert pv.provenance()["git_dirty"] is True and pv.provenance(tmp_path / "elsewhere")["git_dirty"] is True
    (repo / "a.py").write_text("x = 2\n")
    assert pv.provenance(out)["git_dirty"] is True


def test_weights_bench_judges_each_models_greedy_patches_at_the_true_span(tmp_path, monkeypatch):
    from debugger.eval import weights
    runs = []
    monkeypatch.setattr(weights, "run_tests", lambda *a, **k: runs.append(a) or runner.run_tests(*a, **k))
    judge = tmp_path / "judge_calc.py"
    judge.write_text("from calc import mul\n\n\ndef test_hidden():\n    assert mul(5, 0) == 0\n")
    tasks.write_task(tmp_path / "bench", tasks.Task("calc", "calc.py", tasks.PYTEST, fix_lines=[6, 6]), FIXTURES / "calc", judge)
    # the same bug as an insertion (no lines cut): no infill holds it, so the function is rewritten
    tasks.write_task(tmp_path / "bench", tasks.Task("calc-ins", "calc.py", tasks.PYTEST, fix_lines=[6, 5]),
                     FIXTURES / "calc", judge)
    bench = tasks.load_bench(tmp_path / "bench")
    overfit = tmp_path / "overfit.py"
    overfit.write_text(fixed("calc").read_text().replace("return a * b", "return 12 if (a, b) == (3, 4) else 9"))
    models = [weights.Model("base", f"fake:{overfit}"), weights.Model("lora", f"fake:{fixed('calc')}")]
    rows = weights.run(bench, models, tmp_path / "run", window=None)
    by = {(r["task"], r["config"]): r for r in rows}
    assert [(p["kind"], p["hinted"]) for p in by["calc", "lora"]["prompts"]] == [("infill", False), ("infill", True)]
    assert [p["kind"] for p in by["calc-ins", "lora"]["prompts"]] == ["rewrite"]
    assert by["calc", "lora"]["correct"] is True and by["calc-ins", "lora"]["correct"] is True
    # the overfit patch passes the visible tests, not the hidden judge
    assert by["calc", "base"]["fixed"] is True and by["calc", "base"]["correct"] is False
    assert report.paired(rows, "lora", "base")["only_a"] == 2
    # the tests run once per distinct patched file of a task (the plain and the hinted infill wrote the same
    # patch), and once on each buggy file for its failure
    assert len(runs) == 6
    # both models were shown the failure read once from the buggy file's visible tests
    failures = json.loads((tmp_path / "run" / "failures.json").read_text())
    assert "test_" in failures["calc"] and by["calc", "lora"]["prompts"][1]["patch"] == "    return a * b\n"
    page = weights.write_report(tmp_path / "run", rows, groups={"calc": "replaced", "calc-ins": "inserted"}).read_text()
    assert "lora alone 2, base alone 0; +100.0 points" in page and "| inserted | 1 | 1 | 0 | 1 | 0 |" in page
    assert "| base | 0/2 | 2/2 | 0/1 | 0/1 | 0/1 |" in page and (tmp_path / "run" / "weights.png").stat().st_size
    again = weights.run(bench, [weights.Model("base", "fake:/nope.py")], tmp_path / "run", window=None)
    assert len(again) == 4  # resumed: nothing rerun, so the missing model file is never read


def test_a_diff_as_fix_prints_it_applies_back_exactly_and_refuses_what_does_not_fit():
    import difflib

    from debugger.eval.runner import apply_diff
    old = "".join(f"line {i}\n" for i in range(1, 30))
    new = old.replace("line 3\n", "line three\n").replace("line 20\n", "").replace("line 28\n", "line 28\nextra\n")
    diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "a/f.py", "b/f.py"))
    assert apply_diff(old, diff) == new
    with pytest.raises(ValueError, match="does not fit"):
        apply_diff(old.replace("line 3\n", "other\n"), diff)


def test_a_run_on_ray_gives_the_local_runs_verdicts_and_report(bench, tmp_path):
    """`debugger eval --ray local`: the same (task, config) pairs as Ray tasks on a local instance; the rows
    stream into results.jsonl, the verdicts and the report's figures are the local pool's, the provenance
    names the cluster, and a rerun resumes (nothing is run again)."""
    extra = ["--model", f"fake:{fixed('calc')}"]  # what `debugger eval` can pass on: the two runs' same settings
    local = runner.run(tasks.load_bench(bench), ["default", "naive"], tmp_path / "local", extra=extra)
    code, out, err, _ = run_cli("eval", str(bench), "--config", "default", "--config", "naive", "--ray", "local",
                                "--out", str(tmp_path / "ray"), *extra)
    assert code == 0, err
    on_ray = report.load_rows(tmp_path / "ray")
    verdict = lambda rows: sorted((r["task"], r["config"], r["status"], r["fixed"], r["correct"], r["loc_rank"])  # noqa: E731
                                  for r in rows)
    assert verdict(on_ray) == verdict(local) and len(on_ray) == 4
    assert all(r["fixed"] and r["correct"] for r in on_ray if r["task"] == "calc")
    figures = lambda rows: {c: {k: v for k, v in s.items() if "seconds" not in k and k not in ("peak_rss_mb", "tokens_per_fix")}  # noqa: E731
                            for c, s in report.summarize(rows).items()}
    a, b = figures(on_ray), figures(local)
    assert a == b, {c: {k: (v, b[c].get(k)) for k, v in a[c].items() if v != b[c].get(k)} for c in a}
    prov = json.loads((tmp_path / "ray" / "provenance.json").read_text())
    assert prov["ray"][0]["address"] == "local" and prov["ray"][0]["nodes"] == 1 and prov["ray"][0]["cpus"] >= 1
    lines = (tmp_path / "ray" / "results.jsonl").read_text()
    code, _, err, _ = run_cli("eval", str(bench), "--config", "default", "--config", "naive", "--ray", "local",
                              "--out", str(tmp_path / "ray"), "--model", "fake:/nope.py")
    assert code == 0 and (tmp_path / "ray" / "results.jsonl").read_text() == lines, err


def test_a_passing_candidate_is_judged_with_the_judge_beside_its_project(tmp_path):
    """The chosen-vs-random figure judges every passing candidate's diff: the task folder is copied whole, so
    a judge beside the project (`../judge_test.py`, as the examples' and traps' are) runs; the right fix
    passes it, a wrong one fails it, one that does not fit the file is None."""
    import difflib
    import os

    from debugger.eval.runner import _judge_diff
    from debugger.eval.tasks import from_examples
    task = next(t for t in from_examples(tmp_path / "bench") if t.id == "off_by_one")
    assert "../" in task.judge
    text = (task.project / task.file).read_text()

    def diff(new: str) -> str:
        return "".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True), "a/f", "b/f"))
    right = diff(text.replace("range(len(values) - size)", "range(len(values) - size + 1)"))
    wrong = diff(text.replace("range(len(values) - size)", "range(len(values) - size + 2)"))
    env = dict(os.environ)
    assert _judge_diff(task, right, tmp_path / "j1", env) is True
    assert _judge_diff(task, wrong, tmp_path / "j2", env) is False
    assert _judge_diff(task, "@@ -900,1 +900,1 @@\n-x\n+y\n", tmp_path / "j3", env) is None
