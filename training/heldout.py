"""The end of a training run: the adapter against its base on the held-out split, through `eval/`.

Both configs are the shipped default with one difference (`adapter`), written beside the adapter so
the comparison can be rerun: `debugger eval DATA --config OUT/eval/base.toml --config OUT/eval/lora.toml`.
With `model_only` both leave the probe's mutants out of the candidates (`formats = ["infill", "rewrite"]`,
as the sweep scores) and live in OUT/eval-model-only: a probe mutant fixes a mutant bug whatever the
weights, so in the shipped pipeline the held-out mutants measure the probe as much as the adapter.
`evaluate_weights` compares the weights alone (eval/weights.py: greedy patches at the true span, no budget),
in OUT/eval-weights.
"""
from __future__ import annotations

import re
from pathlib import Path

from debugger.eval import report, runner, tasks, weights
from debugger.config import adapter_base, adapter_context_lines

from .sweep import MODEL_WRITES


def folder(adapter: Path, model_only: bool = False) -> Path:
    """Where the paired evaluation's configs and run live."""
    return adapter / ("eval-model-only" if model_only else "eval")


def configs(adapter: Path, model_only: bool = False) -> list[str]:
    default = runner.config_path("default").read_text()
    where = folder(adapter, model_only)
    where.mkdir(parents=True, exist_ok=True)
    base, lora = where / "base.toml", where / "lora.toml"
    # top-level keys must come before the first [table] of the TOML
    cut = next((m.start() for m in re.finditer(r"^\[", default, re.M)), len(default))
    top, rest = default[:cut].rstrip(), default[cut:]
    # the base sees the adapter's window too: the comparison isolates the weights, not the prompt length
    window = adapter_context_lines(str(adapter))
    same = f"\ncontext_lines = {window}" if window else ""
    top += f"\n{MODEL_WRITES}" if model_only else ""
    top += f'\nmodel = "{adapter_base(str(adapter))}"'  # the adapter's weights, whatever `debugger fix` defaults to
    base.write_text(f'{top}\nadapter = "none"{same}\n\n{rest}')
    lora.write_text(f'{top}\nadapter = "{adapter.resolve()}"\n\n{rest}')
    return [str(base), str(lora)]


def _bench(data: str | Path, run: Path, limit: int | None, extra) -> list[tasks.Task]:
    return tasks.from_examples(run / "tasks") + (tasks.from_records(Path(data), run / "tasks", split="test",
                                                                     limit=limit) if limit else []) + list(extra)


def _groups(bench: list[tasks.Task], extra) -> dict[str, str]:
    """Each task's group in a report: the bundled examples, the held-out records, the extra tasks."""
    from debugger.data.corpus import example_bugs
    examples, more = {d.name for d, _ in example_bugs()}, {t.id for t in extra}
    return {t.id: "examples" if t.id in examples else "extra tasks" if t.id in more else "held-out records"
            for t in bench}


def extra_tasks(data: str | Path, folder: str | Path) -> list[tasks.Task]:
    """The eval tasks in FOLDER (say, real bugs of the held-out projects from `data history --tasks`), none of a
    project the training data's train split holds: the adapter may have learned that very fix."""
    from debugger.data.schema import read_jsonl
    try:
        more = tasks.load_bench(Path(folder))
    except tasks.TaskError as e:
        raise ValueError(str(e)) from None
    try:
        trained = {r.project for r in read_jsonl(Path(data)) if r.split == "train"}
    except OSError as e:
        raise ValueError(f"{data}: {e.strerror or e}") from None
    seen = [t.id for t in more if any(t.id.startswith(f"{p}-") for p in trained)]
    if seen:
        raise ValueError(f"{folder}: {len(seen)} task(s) of projects the adapter trained on ({', '.join(seen[:3])})")
    return more


def evaluate(adapter: str | Path, data: str | Path, limit: int | None, *, extra: list[tasks.Task] = (),
             budget: float | None = None, model_only: bool = False, time_limit: float = 900, on_row=None) -> dict:
    """Run base and lora on the examples plus `limit` held-out records (0: none) and the `extra` tasks; returns
    the summary per config and `paired`: lora against base on the same tasks (wins, losses, the difference
    with its 95% interval). `budget`: seconds per repair for both (default: the shipped budget); `model_only`:
    the model writes every candidate (no probe mutants)."""
    adapter = Path(adapter)
    run = folder(adapter, model_only) / "run"
    bench = _bench(data, run, limit, extra)
    rows = runner.run(bench, configs(adapter, model_only), run, time_limit=time_limit, on_row=on_row,
                      extra=["--budget", str(budget)] if budget else None)
    report.write(run)
    return {**report.summarize(rows), "paired": report.paired(rows, "lora", "base")}


def evaluate_weights(adapter: str | Path, data: str | Path, limit: int | None, *, extra: list[tasks.Task] = (),
                     on_row=None) -> dict:
    """The same tasks, the weights alone: base and adapter each patch the true span greedily (eval/weights.py),
    both prompted with the adapter's window; the summary per config and `paired`, as `evaluate` returns."""
    adapter = Path(adapter)
    run = adapter / "eval-weights"
    on = adapter_base(str(adapter))
    models = [weights.Model("base", on), weights.Model("lora", on, str(adapter.resolve()))]
    bench = _bench(data, run, limit, extra)
    rows = weights.run(bench, models, run, window=adapter_context_lines(str(adapter)), on_row=on_row)
    weights.write_report(run, rows, groups=_groups(bench, extra))
    return {**report.summarize(rows), "paired": report.paired(rows, "lora", "base")}
