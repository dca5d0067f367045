"""`debugger eval`: run a benchmark per named config, or write the report of a run."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

err = Console(stderr=True, highlight=False)


def eval_command(
    target: str = typer.Argument(..., help="BENCH_DIR, 'examples' (the bundled examples), a bug-record JSONL "
                                 "(its held-out test split, plus the examples), or 'report'."),
    run_dir: Optional[str] = typer.Argument(None, help="With 'report': the run directory."),
    config: List[str] = typer.Option(["default", "naive"], "--config", help="Named config (eval/configs) or TOML."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Tasks in parallel (threads are split between them)."),
    out: Optional[str] = typer.Option(None, "--out", help="Run directory (default runs/eval-TIMESTAMP); "
                                      "an existing one is resumed."),
    time_limit: float = typer.Option(900, "--time-limit", help="Seconds per task before it is killed."),
    only: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated task ids to run."),
    model: Optional[str] = typer.Option(None, "--model", help="Override every config's model."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many tasks (in id order)."),
    split: str = typer.Option("test", "--split", help="With a JSONL of records: the split to use."),
    budget: Optional[float] = typer.Option(None, "--budget", help="Override every config's repair budget "
                                           "(seconds): the same budget for every peer."),
    readme: Optional[str] = typer.Option(None, "--readme", help="With 'report': also write the run's results "
                                         "table into this README, between its results markers."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run the tasks on Ray: a cluster's address, 'auto', or "
                                      "'local' (start one here). Task folders must be at the same path on every node."),
    ray_cpus: int = typer.Option(2, "--ray-cpus", min=1, help="With --ray: CPUs each task asks for (the model "
                                 "gets one less)."),
    beside: Optional[str] = typer.Option(None, "--beside", help="With 'report --readme': another run of the same "
                                         "tasks (an older build) shown and paired beside this one."),
) -> None:
    """Benchmark `debugger fix` (and the naive peer) over a directory of tasks; then report.

    debugger eval BENCH_DIR [--config NAME ...] [--jobs N]   |   debugger eval report RUN_DIR
    """
    from . import report, runner, tasks as taskmod

    if target == "report":
        if not run_dir:
            err.print("[bold red]error:[/] usage: debugger eval report RUN_DIR")
            raise typer.Exit(2)
        try:
            if readme and not Path(readme).is_file():
                raise ValueError(f"{readme}: no such file")
            if beside and not (Path(beside) / "results.jsonl").is_file():
                raise ValueError(f"{beside}: no results.jsonl there (--beside takes a run directory)")
            md, page = report.write(Path(run_dir))
            if readme:
                link = os.path.relpath(md, Path(readme).resolve().parent)
                report.write_readme(Path(readme), report.readme_block(Path(run_dir), link,
                                                                    Path(beside) if beside else None))
        except ValueError as e:
            err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
            raise typer.Exit(2) from None
        print(f"wrote {md} and {page}" + (f", and the results table in {readme}" if readme else ""))
        return
    run = Path(out or f"runs/eval-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        if target == "examples":
            bench = taskmod.from_examples(run / "tasks")
        elif target.endswith(".jsonl"):
            # the held-out split is the examples plus the held-out projects' records (--limit: records only)
            bench = taskmod.from_examples(run / "tasks") if split == "test" else []
            bench += taskmod.from_records(Path(target), run / "tasks", split=split, limit=limit)
        else:
            bench = taskmod.load_bench(Path(target))
            bench = bench[:limit] if limit else bench
        if only:
            wanted = set(only.split(","))
            bench = [t for t in bench if t.id in wanted]
        for c in config:
            runner.config_path(c)
    except ValueError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    extra = (["--model", model] if model else []) + (["--budget", str(budget)] if budget else [])
    total = len(bench) * len(config)
    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=err) as bar:
        tid = bar.add_task("", total=total)

        def on_row(r: dict) -> None:
            mark = "correct" if r.get("correct") else "fixed" if r.get("fixed") else r.get("status")
            bar.console.print(f"{r['task']:<24} {r['config']:<12} {mark:<10} {r['seconds']:>6.1f}s "
                              f"{r['tokens']:>5} tok")
            bar.advance(tid)
        try:
            rows = runner.run(bench, config, run, jobs=jobs, time_limit=time_limit, extra=extra, on_row=on_row,
                              ray=ray, ray_cpus=ray_cpus)
        except ValueError as e:  # --ray without Ray installed
            err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
            raise typer.Exit(2) from None
        bar.update(tid, completed=total)
    md, page = report.write(run)
    summary = report.summarize(rows)
    for c, s in summary.items():
        print(f"{c:<12} fixed {s['fixed']}/{s['tasks']}  correct {s['correct']}/{s['judged']}  "
              f"median {s['median_seconds']:.1f}s  p90 {s['p90_seconds']:.1f}s")
    print(f"report: {md}")
    if any(r.get("status") in ("crash", "error") for r in rows):
        raise typer.Exit(1)
