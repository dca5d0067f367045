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


@data_app.command("history")
def history_cmd(repo: str = typer.Argument(..., help="A git repository whose history has fixes with tests."),
                out: str = typer.Option(..., "--out", help="JSONL to append records to (a rerun skips commits "
                                                           "already in it)."),
                rev: str = typer.Option("HEAD", "--rev", help="Commits to read: a branch, a commit or a range "
                                                              "(git log syntax)."),
                limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most this many commits, newest first."),
                test: Optional[str] = typer.Option(None, "--test", help="Pytest command the changed test files are "
                                                                        "appended to (default: pytest -q)."),
                name: Optional[str] = typer.Option(None, "--name", help="Project name in the records (default: "
                                                                         "the folder's)."),
                max_lines: int = typer.Option(20, "--max-lines", min=1, help="Skip fixes changing more lines."),
                test_timeout: float = typer.Option(30.0, "--test-timeout", min=0.1),
                tasks: Optional[str] = typer.Option(None, "--tasks", help="Also write each bug as a `debugger eval` "
                                                                          "task into this directory (the failing tests "
                                                                          "visible, the fix's whole test modules its "
                                                                          "hidden judge).")) -> None:
    """Records from a project's own history: commits that changed one source file with its tests, kept
    when those tests fail without the change and pass with it."""
    import subprocess

    from .history import HistoryStats, mine
    from .schema import read_jsonl, write_card, write_jsonl
    root = Path(repo)
    if not root.is_dir():
        _fail(f"{repo}: not a directory")
    for args, why in ((["rev-parse", "--git-dir"], "not a git repository"),
                      (["log", "--max-count=1", "--format=%H", rev, "--"], f"no commits {rev!r} in it")):
        try:
            subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            _fail(f"{repo}: {why}")
    target = Path(out)
    old = list(read_jsonl(target)) if target.exists() else []
    seen = {json.loads(r.provenance).get("commit", "") for r in old if r.source == "history"}
    stats = HistoryStats(name or root.resolve().name)
    with Progress(TextColumn("history {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as bar:
        tid = bar.add_task(stats.project, total=None)
        for rec in mine(root, rev=rev, limit=limit, command=test, name=name, max_lines=max_lines,
                        test_timeout=test_timeout, seen=seen, stats=stats, tasks=Path(tasks) if tasks else None,
                        on_progress=lambda done, total: bar.update(tid, completed=done, total=total)):
            write_jsonl(target, [rec], append=True)  # as found: an interrupted run keeps its records
    if target.exists():
        write_card(target, list(read_jsonl(target)))
    print(json.dumps({"project": stats.project, "commits": stats.commits, "candidates": stats.candidates,
                      "kept": stats.kept, "skipped": dict(stats.skipped), "seconds": stats.seconds, "out": str(target)}))


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
