"""The end of a training run: the adapter against its base on the held-out split, through `eval/`.

Both configs are the shipped default with one difference (`adapter`), written beside the adapter so
the comparison can be rerun: `debugger eval DATA --config OUT/eval/base.toml --config OUT/eval/lora.toml`.
"""
from __future__ import annotations

import re
from pathlib import Path

from debugger.eval import report, runner, tasks
from debugger.config import adapter_context_lines


def configs(adapter: Path) -> list[str]:
    default = runner.config_path("default").read_text()
    where = adapter / "eval"
    where.mkdir(parents=True, exist_ok=True)
    base, lora = where / "base.toml", where / "lora.toml"
    # top-level keys must come before the first [table] of the TOML
    cut = next((m.start() for m in re.finditer(r"^\[", default, re.M)), len(default))
    top, rest = default[:cut].rstrip(), default[cut:]
    # the base sees the adapter's window too: the comparison isolates the weights, not the prompt length
    window = adapter_context_lines(str(adapter))
    same = f"\ncontext_lines = {window}" if window else ""
    base.write_text(f'{top}\nadapter = "none"{same}\n\n{rest}')
    lora.write_text(f'{top}\nadapter = "{adapter.resolve()}"\n\n{rest}')
    return [str(base), str(lora)]


def evaluate(adapter: str | Path, data: str | Path, limit: int | None, *, time_limit: float = 900,
             on_row=None) -> dict:
    """Run base and lora on the examples plus `limit` held-out records; returns the summary per config and
    `paired`: lora against base on the same tasks (wins, losses, the difference with its 95% interval)."""
    adapter = Path(adapter)
    run = adapter / "eval" / "run"
    bench = tasks.from_examples(run / "tasks") + tasks.from_records(Path(data), run / "tasks", split="test",
                                                                     limit=limit)
    rows = runner.run(bench, configs(adapter), run, time_limit=time_limit, on_row=on_row)
    report.write(run)
    return {**report.summarize(rows), "paired": report.paired(rows, "lora", "base")}
