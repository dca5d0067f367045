"""`debugger data`: build, import, split and describe bug datasets."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

data_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Build, import, split and describe bug datasets.")
err = Console(stderr=True, highlight=False)


def _fail(msg: str) -> None:
    err.print(f"[bold red]error:[/] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(2)


@data_app.command("synth")
def synth_cmd(project: str = typer.Argument(..., help="A project directory whose tests pass."),
              out: str = typer.Option(..., "--out", help="JSONL to append records to (resumable)."),
              test: Optional[str] = typer.Option(None, "--test", help="Test command (default: pytest)."),
              jobs: int = typer.Option(2, "--jobs", min=1), per_kind: int = typer.Option(1, "--per-kind", min=1),
              max_mutants: Optional[int] = typer.Option(None, "--max"),
              name: Optional[str] = typer.Option(None, "--name"), version: str = typer.Option("", "--version"),
              license: str = typer.Option("", "--license"),
              plugins: bool = typer.Option(True, "--plugins/--no-plugins",
                                           help="Let pytest load installed plugins (off: ~3x faster cold runs "
                                                "when the suite passes without them).")) -> None:
    """Mutate the project's functions and keep the mutants its tests catch, with their real failures."""
    from .schema import read_jsonl, write_card
    from .synth import synth
    root = Path(project)
    if not root.is_dir():
        _fail(f"{project}: not a directory")
    with Progress(TextColumn("synth {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as bar:
        tid = bar.add_task(root.name, total=None)
        try:
            stats = synth(root, Path(out), command=test, jobs=jobs, per_kind=per_kind, max_mutants=max_mutants,
                          name=name, version=version, license=license, plugin_autoload=plugins,
                          on_progress=lambda p, done, total: bar.update(tid, completed=done, total=total))
        except ValueError as e:
            _fail(str(e))
    records = list(read_jsonl(Path(out))) if Path(out).exists() else []
    write_card(Path(out), records)
    print(json.dumps({"project": stats.project, "files": stats.files, "tried": stats.tried, "kept": stats.kept,
                      "survived": stats.survived, "uncovered": stats.uncovered, "skipped": stats.skipped,
                      "seconds": stats.seconds, "kinds": dict(stats.kinds)}))


@data_app.command("split")
def split_cmd(src: str = typer.Argument(...), out: str = typer.Option(..., "--out"),
              test_projects: str = typer.Option(..., "--test-projects", help="Comma-separated held-out projects."),
              valid_projects: str = typer.Option("", "--valid-projects")) -> None:
    """Assign train/valid/test by source project (no project in two splits)."""
    from .schema import read_jsonl, write_card, write_jsonl
    from .synth import split_by_project
    try:
        recs = split_by_project(list(read_jsonl(Path(src))), set(filter(None, test_projects.split(","))),
                                set(filter(None, valid_projects.split(","))))
    except (OSError, ValueError) as e:
        _fail(str(e))
    write_jsonl(Path(out), recs)
    print(f"wrote {len(recs)} records; card: {write_card(Path(out), recs)}")


@data_app.command("import")
def import_cmd(fmt: str = typer.Argument(..., help="humanevalfix | bugsinpy"),
               src: str = typer.Argument(..., help="JSONL file (humanevalfix) or bug folder (bugsinpy)."),
               out: str = typer.Option(..., "--out"),
               checkout: Optional[str] = typer.Option(None, "--checkout", help="bugsinpy: the buggy project checkout."),
               limit: Optional[int] = typer.Option(None, "--limit")) -> None:
    """Import a public bug dataset, running its tests here for the real failure output."""
    from . import importers
    from .schema import read_jsonl, write_card, write_jsonl
    try:
        if fmt == "humanevalfix":
            recs = list(importers.humanevalfix(Path(src), limit))
        elif fmt == "bugsinpy":
            if not checkout:
                _fail("bugsinpy needs --checkout DIR (the buggy project)")
            recs = [importers.bugsinpy(Path(src), Path(checkout))]
        else:
            _fail(f"unknown format {fmt!r}: use humanevalfix or bugsinpy")
    except (OSError, ValueError, KeyError) as e:
        _fail(str(e))
    write_jsonl(Path(out), recs, append=True)
    write_card(Path(out), list(read_jsonl(Path(out))))
    print(f"imported {len(recs)} records into {out}")


@data_app.command("corpus")
def corpus_cmd(out: str = typer.Option("data/corpus/bugs.jsonl", "--out"),
               projects: Optional[str] = typer.Option(None, "--projects", help="Comma-separated subset."),
               jobs: int = typer.Option(2, "--jobs", min=1),
               per_kind: int = typer.Option(2, "--per-kind", min=1, help="Mutants per kind per function."),
               max_per_project: Optional[int] = typer.Option(
                   350, "--max-per-project", help="New mutants tried per project in this run (0: no limit).")) -> None:
    """Rebuild the real-code corpus: pinned PyPI sdists with their tests, mutated, split by project.
    The defaults are the shipped corpus's recipe (3-4 h on 2 cores; resumable)."""
    from .corpus import build
    with Progress(TextColumn("corpus {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as bar:
        tid = bar.add_task("", total=None)
        figures = build(Path(out), projects=projects.split(",") if projects else None, jobs=jobs,
                        per_kind=per_kind, max_per_project=max_per_project or None,
                        on_progress=lambda p, done, total: bar.update(tid, description=p, completed=done,
                                                                      total=total))
    print(json.dumps(figures, indent=2))


@data_app.command("card")
def card_cmd(src: str = typer.Argument(...)) -> None:
    """(Re)write the dataset card beside a JSONL file."""
    from .schema import read_jsonl, write_card
    print(write_card(Path(src), list(read_jsonl(Path(src)))))
