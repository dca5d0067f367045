"""The weights alone: each model's greedy patches at a bug's true lines, judged by the task's tests.

A `debugger eval` run measures whole repairs under a time budget. On 2 cores that leaves the model seconds
to write, and localization and the mutation probe decide most outcomes, so a change of weights barely shows
there. This benchmark holds all but the weights fixed: for each task it cuts out the lines the reference fix
changes (the task's `fix_lines`: the localization is an oracle's), asks each model for the greedy completion
of the prompts `debugger fix` sends for such a span, with no deadline, and runs each patched file through
the task's visible tests and then its hidden judge, in the sandbox. The prompts: for a span of up to three
lines the plain infill and the hinted one (failing tests and cut lines as comments: `debugger fix` asks
for that view on its top three statements, greedy and sampled); where an infill cannot hold the fix (an
insertion, a longer span), the rewrite of the function. These are the shapes `data.format.to_example`
trains on. A task is correct for a model when one of its patches passes both; with no judge, `correct` is
None, as in `debugger eval`.

Greedy decoding on one engine makes the figures a function of the weights, not of the machine's load. They
bound what a repair can reach once localization has found the lines; they are not a repair's fix rate.
Rows append to OUT/results.jsonl as they finish (a rerun resumes); `report.paired` reads them as it reads a
`debugger eval` run's.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from debugger import prompts, spans
from debugger.data.format import MAX_INFILL_LINES
from debugger.edits import parse
from debugger.redact import redact_obj
from debugger.sandbox import make_sandbox
from debugger.source import edited_text
from debugger.testrun import run_tests

from .runner import _env  # `python` in task commands is this interpreter; no stale bytecode
from .tasks import Task

TEST_TIMEOUT = 300.0  # one run of a task's visible tests or judge


@dataclass(frozen=True)
class Model:
    label: str  # the config name rows carry ("base", "lora")
    spec: str  # what `debugger fix --model` takes (a pack name, a .gguf file; fake:FILE in tests)
    adapter: str | None = None  # a PEFT adapter dir (on llama.cpp applied as a GGUF LoRA); None: the base alone


def span_prompts(text: str, fix_lines: list[int], failure: str, path: str, window: int | None) -> list[prompts.Prompt]:
    """The prompts `debugger fix` would send had it localized exactly the lines the reference fix changes."""
    start, end = fix_lines
    if 1 <= end - start + 1 <= MAX_INFILL_LINES:
        return [prompts.infill(text, start, end, window=window), prompts.infill(text, start, end, failure, window=window)]
    fn = spans.function_at(spans.functions(text), max(1, start))
    return [prompts.rewrite(text, fn.start_line, fn.end_line, fn.name, path, failure)] if fn else []


@contextlib.contextmanager
def _copy(task: Task, text: str | None):
    """A scratch copy of the task folder (the judge's hidden tests sit beside task/), the file patched."""
    work = Path(tempfile.mkdtemp(prefix="weights-"))
    try:
        shutil.copytree(task.dir, work / "t", ignore=shutil.ignore_patterns("__pycache__"))
        proj = work / "t" / "task"
        if text is not None:
            (proj / task.file).write_text(text, encoding="utf-8")
        yield proj
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Judge:
    """A task's visible tests (and, when they pass, its judge) on a patched file, in the sandbox; one verdict
    per distinct file."""

    def __init__(self, task: Task):
        self.task, self.verdicts = task, {}
        self.sandbox = make_sandbox()

    def _visible(self, proj: Path):
        return run_tests(proj, self.task.test, timeout=TEST_TIMEOUT, sandbox=self.sandbox, extra_env={"PATH": _env(None)["PATH"]})

    def failure(self) -> str:
        """The failure `debugger fix` reads before it prompts: the visible tests on the buggy file."""
        with _copy(self.task, None) as proj:
            return prompts.failure_text(self._visible(proj))

    def __call__(self, text: str) -> tuple[bool, bool | None]:
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in self.verdicts:
            with _copy(self.task, text) as proj:
                fixed = self._visible(proj).ok
                correct = None
                if self.task.judge:
                    correct = fixed and self.sandbox.run(self.task.judge, proj, _env(None), TEST_TIMEOUT).returncode == 0
            self.verdicts[key] = (fixed, correct)
        return self.verdicts[key]


def run(tasks: list[Task], models: list[Model], out: Path, *, window: int | None, threads: int | None = None,
        on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """Every task with a reference span, every model (one load each); returns all rows, earlier runs' included."""
    from debugger.config import FixConfig
    from debugger.engines.llama import default_threads
    from debugger.pipeline import make_generator
    from debugger.provenance import provenance

    out.mkdir(parents=True, exist_ok=True)
    results, failures_file = out / "results.jsonl", out / "failures.json"
    rows = [json.loads(ln) for ln in results.read_text().splitlines() if ln.strip()] if results.exists() else []
    done = {(r["task"], r["config"]) for r in rows}
    # every model must see the same hinted prompt: the failure is read once per task and kept
    failures = json.loads(failures_file.read_text()) if failures_file.exists() else {}
    prov = out / "provenance.json"
    if not prov.exists():
        prov.write_text(json.dumps({**provenance(out), "benchmark": "weights", "window": window,
                                    "models": [m.__dict__ for m in models]}, indent=2))
    tasks = [t for t in tasks if t.fix_lines]
    _, cores = default_threads()
    gens: dict[str, object] = {}
    # task by task, every model in turn (each loaded once, when first needed): a run stopped early is paired
    for t in tasks:
        todo = [m for m in models if (t.id, m.label) not in done]
        if not todo:
            continue
        judge = _Judge(t)
        if t.id not in failures:  # kept redacted (it quotes the project), and prompted as kept, for every model
            failures[t.id] = redact_obj(judge.failure())
            failures_file.write_text(json.dumps(failures, indent=1))
        for m in todo:
            if m.label not in gens:
                # nothing runs beside a generation here (the tests run after it), so decoding takes every core
                gens[m.label] = make_generator(FixConfig(model=m.spec, adapter=m.adapter, threads=threads or cores,
                                                         samples=0), lambda event: None)
            row = _row(t, m, gens[m.label], judge, failures[t.id], window)
            with results.open("a") as f:
                f.write(json.dumps(redact_obj(row)) + "\n")  # patches quote the task's source
            rows.append(row)
            if on_row:
                on_row(row)
    return rows


def _row(t: Task, m: Model, gen, judge: _Judge, failure: str, window: int | None) -> dict:
    text = (t.project / t.file).read_text(encoding="utf-8")
    tried = []
    for p in span_prompts(text, t.fix_lines, failure, t.file, window):
        t0 = time.monotonic()
        c = gen.complete(p, samples=0, temperature=0.0, greedy=True)[0]
        t1 = time.monotonic()
        edit = parse(c.text, p, text)
        fixed, correct = judge(edited_text(text, edit)) if edit else (False, False if t.judge else None)
        tried.append({"kind": p.kind, "hinted": p.hinted, "tokens": c.tokens, "seconds": round(t1 - t0, 2),
                      "judge_seconds": round(time.monotonic() - t1, 2), "patch": edit.text if edit else None,
                      "fixed": fixed, "correct": correct})
    return {"task": t.id, "config": m.label, "model": gen.name, "bug_kind": t.bug_kind, "prompts": tried,
            "tokens": sum(x["tokens"] for x in tried), "seconds": round(sum(x["seconds"] for x in tried), 2),  # generating
            "fixed": any(x["fixed"] for x in tried),
            "correct": any(x["correct"] for x in tried) if t.judge else None}


def write_report(out: Path, rows: list[dict], a: str = "lora", b: str = "base", groups: dict[str, str] | None = None) -> Path:
    """OUT/report.md: correct fixes per model, per prompt and per bug kind, and `a` against `b` paired, over all
    tasks and per group of them (`groups`: task id -> its group's name, say "examples" or "real bugs")."""
    from .report import paired
    prov = json.loads((out / "provenance.json").read_text()) if (out / "provenance.json").exists() else {}
    configs = list(dict.fromkeys(r["config"] for r in rows))
    lines = [f"# The weights alone: greedy patches at the true span ({len({r['task'] for r in rows})} tasks)", "",
             f"Commit `{prov.get('git_sha', '?')[:7]}`{' (uncommitted changes)' if prov.get('git_dirty') else ''}, "
             f"window {prov.get('window') or 'whole file'}; written by eval/weights.py. Correct: the visible tests "
             "and the hidden judge pass.", "",
             "| model | correct | fixed (visible tests) | plain infill | hinted infill | rewrite | tokens | median s generating |",
             "|---|---|---|---|---|---|---|---|"]
    for c in configs:
        rs = [r for r in rows if r["config"] == c]
        judged = [r for r in rs if r["correct"] is not None]

        def view(kind: str, hinted: bool, judged: list[dict] = judged) -> str:
            ps = [p for r in judged for p in r["prompts"] if p["kind"] == kind and p["hinted"] == hinted]
            return f"{sum(bool(p['correct']) for p in ps)}/{len(ps)}" if ps else "-"
        secs = sorted(r["seconds"] for r in rs)
        lines.append(f"| {c} | {sum(bool(r['correct']) for r in judged)}/{len(judged)} | "
                     f"{sum(r['fixed'] for r in rs)}/{len(rs)} | " + " | ".join(view(k, h) for k, h, _ in VIEWS)
                     + f" | {sum(r['tokens'] for r in rs)} | {secs[len(secs) // 2] if secs else 0:.1f} |")
    if a in configs and b in configs:
        p = paired(rows, a, b)
        lo, hi = p["ci95"] or (0.0, 0.0)
        lines += ["", f"**{a} against {b}**, paired on {p['tasks']} tasks: {a} alone {p['only_a']}, {b} alone "
                  f"{p['only_b']}; {(p['difference'] or 0) * 100:+.1f} points (95% CI {lo * 100:+.1f} to {hi * 100:+.1f}, "
                  f"McNemar p = {p['p_mcnemar']:.3f})." if p["tasks"] else ""]
        if groups:
            lines += ["", f"| tasks | n | {a} correct | {b} correct | {a} alone | {b} alone | difference (95% CI) |",
                      "|---|---|---|---|---|---|---|"]
            for g in dict.fromkeys(groups.values()):
                gp = paired([r for r in rows if groups.get(r["task"]) == g], a, b)
                if not gp["tasks"]:
                    continue
                ok = {c: sum(bool(r["correct"]) for r in rows if r["config"] == c and groups.get(r["task"]) == g)
                      for c in (a, b)}
                glo, ghi = gp["ci95"]
                lines.append(f"| {g} | {gp['tasks']} | {ok[a]} | {ok[b]} | {gp['only_a']} | {gp['only_b']} | "
                             f"{gp['difference'] * 100:+.1f} ({glo * 100:+.1f} to {ghi * 100:+.1f}) |")
    kinds = sorted({r.get("bug_kind") or "unknown" for r in rows})
    lines += ["", "| bug kind | " + " | ".join(configs) + " |", "|---" * (len(configs) + 1) + "|"]
    for k in kinds:
        cells = []
        for c in configs:
            rs = [r for r in rows if r["config"] == c and (r.get("bug_kind") or "unknown") == k and r["correct"] is not None]
            cells.append(f"{sum(bool(r['correct']) for r in rs)}/{len(rs)}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    if _chart(rows, configs, out / "weights.png"):
        lines += ["", "![correct fixes per prompt and model](weights.png)"]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


VIEWS = (("infill", False, "plain infill"), ("infill", True, "hinted infill"), ("rewrite", False, "rewrite"))


def _chart(rows: list[dict], configs: list[str], png: Path) -> bool:
    """Correct patches per prompt view (and any view) as % of the tasks that were asked it, one bar per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    judged = [r for r in rows if r["correct"] is not None]
    if not judged:
        return False
    groups = ["any", *(name for *_, name in VIEWS)]
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    width = 0.8 / len(configs)
    for i, c in enumerate(configs):
        rs = [r for r in judged if r["config"] == c]
        rates = [100 * sum(bool(r["correct"]) for r in rs) / len(rs) if rs else 0]
        for kind, hinted, _ in VIEWS:
            ps = [p for r in rs for p in r["prompts"] if p["kind"] == kind and p["hinted"] == hinted]
            rates.append(100 * sum(bool(p["correct"]) for p in ps) / len(ps) if ps else 0)
        ax.bar([g + i * width for g in range(len(groups))], rates, width, label=c)
    ax.set_xticks([g + width * (len(configs) - 1) / 2 for g in range(len(groups))], groups)
    ax.set_ylabel("correct, % of tasks asked")
    ax.set_title(f"greedy patches at the true lines, {len({r['task'] for r in judged})} judged tasks")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True
