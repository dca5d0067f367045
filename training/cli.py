"""`debugger train`: LoRA fine-tuning on bug records, with a progress bar and an ETA up front."""
from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

err = Console(stderr=True, highlight=False)


def train_command(
    data: str = typer.Option(..., "--data", help="Bug-record JSONL (data/ schema) with train/valid splits."),
    out: str = typer.Option(..., "--out", help="Adapter directory (a rerun resumes from its checkpoints)."),
    base: Optional[str] = typer.Option(None, "--base", help="Base model: pack name, HF dir or hub id."),
    preset: str = typer.Option("cpu", "--preset", help="cpu (this laptop, <= 90 min) or gpu (accelerate launch)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimizer steps (overrides epochs)."),
    max_examples: Optional[int] = typer.Option(None, "--max-examples", help="Training records used."),
    max_length: Optional[int] = typer.Option(None, "--max-length", min=64, help="Tokens per example; longer ones "
                                             "are dropped, never cut (cpu preset: 768; real bugs run longer)."),
    epochs: Optional[float] = typer.Option(None, "--epochs"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: all cores)."),
    eval_limit: int = typer.Option(0, "--eval-limit", help="Then run base vs adapter on the examples and this many "
                                   "held-out records through `debugger eval` (0: skip)."),
    eval_tasks: Optional[str] = typer.Option(None, "--eval-tasks", help="Then also run base vs adapter on these "
                                             "`debugger eval` tasks (say, real bugs of the held-out projects: "
                                             "`data history --tasks`); tasks of a training project are refused."),
    eval_budget: Optional[float] = typer.Option(None, "--eval-budget", min=1, help="Seconds per repair in the "
                                                "paired evaluation, the same for base and adapter (default: "
                                                "`debugger fix`'s)."),
    eval_model_only: bool = typer.Option(False, "--eval-model-only", help="In the paired evaluation the model "
                                         "writes every candidate, as the sweep scores (no probe mutants: they fix "
                                         "mutant bugs whatever the weights); its run is OUT/eval-model-only."),
    eval_weights: bool = typer.Option(False, "--eval-weights", help="Compare the weights alone instead: base and "
                                      "adapter each patch the bug's true lines greedily, with no time budget, "
                                      "judged by the tests (eval/weights.py); its run is OUT/eval-weights."),
    eval_only: bool = typer.Option(False, "--eval-only", help="Train nothing: run the paired evaluation on the "
                                   "adapter already in OUT (say, the one a sweep chose)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="A grid of settings (TOML; see training/sweep.py): "
                                        "train each briefly, score it by fix rate on the valid split, keep the "
                                        "best as OUT."),
    sweep_tasks: Optional[str] = typer.Option(None, "--sweep-tasks", help="With --sweep: score the trials on these "
                                              "`debugger eval` tasks instead of the valid split (say, real bugs "
                                              "from a training project's history: `data history --tasks`). Tasks "
                                              "of the held-out projects are refused."),
) -> None:
    """Fine-tune a LoRA adapter for `debugger fix --adapter OUT` on bug records."""
    from .config import make
    from .train import train

    try:
        cfg = make(data, out, preset, base=base, max_steps=max_steps, max_examples=max_examples, epochs=epochs,
                   lr=lr, threads=threads, max_length=max_length)
        if sweep:
            from .sweep import read_grid
            grid = read_grid(sweep)
            if any(v is not None for v in (max_steps, max_examples, max_length, epochs, lr, eval_tasks)) or eval_limit:
                raise ValueError("with --sweep, the grid file sets the training settings (drop --max-steps, "
                                 "--max-examples, --max-length, --epochs, --lr, --eval-limit and --eval-tasks)")
        elif sweep_tasks:
            raise ValueError("--sweep-tasks goes with --sweep")
        if eval_only:
            _check_eval_only(out, sweep, eval_limit, eval_tasks, max_steps, max_examples, max_length, epochs, lr)
        elif (eval_budget or eval_model_only or eval_weights) and not (eval_limit or eval_tasks):
            flag = "--eval-budget" if eval_budget else "--eval-model-only" if eval_model_only else "--eval-weights"
            raise ValueError(f"{flag} goes with --eval-limit or --eval-tasks")
        if eval_weights and (eval_budget or eval_model_only):
            raise ValueError("--eval-weights has no time budget and no pipeline: drop --eval-budget and "
                             "--eval-model-only")
        bench = _sweep_bench(sweep_tasks) if sweep_tasks else None
        extra = []
        if eval_tasks:
            from .heldout import extra_tasks
            extra = extra_tasks(data, eval_tasks)
    except ValueError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if sweep:
        _sweep(data, out, grid, preset, base, threads, as_json, bench)
        return
    if eval_only:
        _heldout(out, data, eval_limit, extra, eval_budget, eval_model_only, as_json, {"adapter": out}, eval_weights)
        return
    bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                   TextColumn("{task.description}"), console=err, disable=as_json)
    task = bar.add_task("", total=None)

    def on_event(name: str, p: dict) -> None:
        if name == "plan":
            if not as_json:
                err.print(_plan_line(p))
            bar.update(task, total=p["steps"])
        elif name == "step":
            bar.update(task, completed=p["step"], total=p["max_steps"])
        elif name == "log" and "loss" in p:
            bar.update(task, description=f"loss {p['loss']:.3f}")
        elif name == "log" and "eval_loss" in p:
            bar.console.print(f"step {p['step']}: eval loss {p['eval_loss']:.3f}")

    try:
        with bar:
            summary = train(cfg, on_event)
    except (ValueError, OSError) as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted; rerun the same command to resume from the last checkpoint")
        raise typer.Exit(130) from None
    if eval_limit or eval_tasks:
        _heldout(out, data, eval_limit, extra, eval_budget, eval_model_only, as_json, summary, eval_weights)
    elif as_json:
        print(json.dumps(summary))
    if not as_json:
        err.print(f"adapter: {escape(out)} (train loss {summary['train_loss']:.3f}"
                  + (f", eval loss {summary['eval_loss']:.3f}" if summary.get("eval_loss") is not None else "")
                  + f", {summary['seconds'] / 60:.1f} min). Use it: debugger fix FILE --adapter {escape(out)}")


def _check_eval_only(out: str, sweep, eval_limit: int, eval_tasks, *training) -> None:
    from pathlib import Path
    if sweep or any(v is not None for v in training):
        raise ValueError("--eval-only trains nothing: drop --sweep, --max-steps, --max-examples, --max-length, "
                         "--epochs and --lr")
    if not (eval_limit or eval_tasks):
        raise ValueError("--eval-only needs --eval-limit N or --eval-tasks DIR")
    if not (Path(out) / "adapter_config.json").is_file():
        raise ValueError(f"{out}: no adapter to evaluate (adapter_config.json is missing)")


def _heldout(out: str, data: str, limit: int, extra: list, budget: float | None, model_only: bool, as_json: bool,
             summary: dict, weights: bool = False) -> None:
    """The paired evaluation (base vs the adapter in OUT), a line per task as it ends, then the paired count."""
    from pathlib import Path

    from .heldout import evaluate, evaluate_weights, folder

    def line(r: dict) -> None:
        mark = "correct" if r.get("correct") else "fixed" if r.get("fixed") else r.get("status") or "wrong"
        err.print(f"{escape(r['task']):<28} {r['config']:<6} {mark}" + (f" ({r['tokens']} tokens)" if weights else ""))
    if weights:
        err.print("held-out evaluation of the weights alone: base vs adapter, greedy patches at the true lines")
        result = evaluate_weights(out, data, limit, extra=extra, on_row=None if as_json else line)
        where = Path(out) / "eval-weights" / "report.md"
    else:
        err.print("held-out evaluation: base vs adapter" + (f", {budget:g} s per repair" if budget else "")
                  + (", the model writing every candidate" if model_only else ""))
        result = evaluate(out, data, limit, extra=extra, budget=budget, model_only=model_only,
                          on_row=None if as_json else line)
        where = folder(Path(out), model_only) / "run" / "report.md"
    summary["heldout"] = result
    if as_json:
        print(json.dumps(summary))
        return
    p, lo, hi = result["paired"], *(result["paired"]["ci95"] or (0.0, 0.0))
    err.print(f"adapter {result['lora']['correct']}/{p['tasks']} correct, base {result['base']['correct']}/{p['tasks']}; "
              f"adapter alone {p['only_a']}, base alone {p['only_b']}: "
              f"{(p['difference'] or 0) * 100:+.1f} points (95% CI {lo * 100:+.1f}..{hi * 100:+.1f}); "
              f"report: {escape(str(where))}")


def _sweep_bench(folder: str) -> list:
    """The tasks in FOLDER, none of a held-out project's (they decide the test split's figures)."""
    from pathlib import Path

    from debugger.data.corpus import TEST_PROJECTS, example_bugs
    from debugger.eval.tasks import TaskError, load_bench
    try:
        bench = load_bench(Path(folder))
    except TaskError as e:
        raise ValueError(str(e)) from None
    examples = {d.name for d, _ in example_bugs()}
    held = [t.id for t in bench if t.id.split("-")[0] in TEST_PROJECTS or t.id in examples]
    if held:
        raise ValueError(f"{folder}: {len(held)} task(s) of held-out projects ({', '.join(held[:3])}); the sweep "
                         "must not see them")
    return bench


def _plan_line(p: dict) -> str:
    """The plan a training run announces before its first step: what it trains on, in what precision, and how long."""
    sources = ", ".join(f"{n} {k}" for k, n in p["by_source"].items())
    return (f"{p['examples']} examples ({sources}; {p['dropped']} dropped as too long), {p['tokens']:,} tokens, "
            f"{p['steps']} steps in {'bf16' if p['bf16'] else 'fp32'}; about {p['eta_seconds'] / 60:.0f} min on "
            "2 CPU cores")


def _sweep(data: str, out: str, grid, preset: str, base: str | None, threads: int | None, as_json: bool,
           bench: list | None = None) -> None:
    from .sweep import sweep
    points = grid.points()
    bar = Progress(TextColumn("sweep {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, disable=as_json)
    task = bar.add_task("", total=len(points))

    def on_event(name: str, p: dict) -> None:
        if name == "trial":
            settings = ", ".join(f"{k} {p[k]:g}" for k in ("lr", "r", "context_lines", "epochs") if k in p)
            doing = "scoring the base alone" if p["trial"].startswith("base") else "training"
            bar.update(task, completed=p["index"], description=f"{p['trial']}: {doing} ({settings})")
        elif name == "plan" and not as_json:  # a trial's training: its size and ETA, as `debugger train` prints
            bar.console.print(f"{p['trial']}: {_plan_line(p)}")
        elif name == "step":
            bar.update(task, description=f"{p['trial']}: training, step {p['step']}/{p['max_steps']}")
        elif name == "log" and "eval_loss" in p and not as_json:
            bar.console.print(f"{p['trial']}: step {p['step']}: eval loss {p['eval_loss']:.3f}")
        elif name == "row":
            bar.update(task, description=f"{p['trial']}: {escape(p['task'])} {'correct' if p.get('correct') else p.get('status')}")
        elif name == "scored" and not as_json:
            bar.console.print(f"{p['trial']}: {p['correct']}/{p['tasks']} correct, eval loss "
                              f"{p['eval_loss'] if p['eval_loss'] is not None else '-'}, {p['seconds'] / 60:.1f} min")

    try:
        with bar:
            result = sweep(data, out, grid, preset=preset, base=base, threads=threads, bench=bench, on_event=on_event)
    except (ValueError, OSError) as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted; rerun the same command to resume (finished trials are kept)")
        raise typer.Exit(130) from None
    if as_json:
        print(json.dumps(result))
    else:
        best = result["chosen"]
        err.print(f"chosen: {best['trial']} ({best['correct']}/{best['tasks']} correct); adapter: {escape(out)}; "
                  f"table: {escape(out)}/sweep.md (sweep.json); plot: {escape(out)}/sweep.png")
