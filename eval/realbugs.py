"""The real-bug benchmark: human-made bugs from Python projects' own git histories, rebuilt by this recipe.

    python -m debugger.eval.realbugs build --mirror DIR --out runs/realbugs [--project NAME ...]
    python -m debugger.eval.realbugs summary --out runs/realbugs
    debugger eval runs/realbugs/tasks/heldout --config default      # the headline
    debugger eval runs/realbugs/tasks/tune --config default         # what defaults may be fitted and chosen on

The projects are in `eval/realbugs/projects.toml`: each with its GitHub repository (mined from a mirror of its
history, DIR/owner+name/repo as the `fetch` tool or `git clone --mirror` leaves it), its split, and the pinned
packages of its own virtualenv, made under OUT/venvs/NAME outside the tasks (its `pip freeze` kept beside it),
as a user's project has its environment. The tests run with that interpreter and the task's copy first on
PYTHONPATH (`src` and the root), pytest's own addopts and warning filters off (they name plugins and turn
today's deprecations into errors the old code never saw).

A bug is a commit of the project that changed one source file by up to `--max-lines` lines together with test
files (`debugger data history`): kept when the fix's test modules all pass on the fix and some of their tests
fail with the file put back as it was. Its task (OUT/tasks/SPLIT/PROJECT-ID) shows the tool the failing tests
alone, and judges a fix by the fix's whole test modules, which the tool never sees as such. Every bug is also
a record in OUT/bugs.jsonl (data/ schema), so a rerun mines only commits it has not read.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent / "realbugs" / "projects.toml"
SPLITS = ("tune", "heldout")


@dataclass(frozen=True)
class RealProject:
    name: str
    repo: str  # GitHub owner/name
    split: str  # tune | heldout
    install: tuple[str, ...]
    commits: int = 800

    def mirror(self, root: Path) -> Path:
        return Path(root) / self.repo.replace("/", "+") / "repo"


def projects(manifest: Path = MANIFEST) -> list[RealProject]:
    import tomllib
    rows = tomllib.loads(manifest.read_text())["project"]
    out = [RealProject(r["name"], r["repo"], r["split"], tuple(r["install"]), r.get("commits", 800)) for r in rows]
    bad = [p.name for p in out if p.split not in SPLITS or not all("==" in x for x in p.install)]
    if bad:
        raise ValueError(f"{manifest}: projects need a split ({', '.join(SPLITS)}) and pinned packages: {bad}")
    return out


def environment(project: RealProject, out: Path) -> Path:
    """The project's own virtualenv (OUT/venvs/NAME) with its pinned packages; made once, its `pip freeze` in
    pinned.txt. Returns its python."""
    venv = Path(out) / "venvs" / project.name
    python = venv / "bin" / "python"
    stamp = venv / "install.json"
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == list(project.install):
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *project.install],
                   check=True)
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True).stdout
    (venv / "pinned.txt").write_text(freeze)
    stamp.write_text(json.dumps(list(project.install)))
    return python


def command(python: Path) -> str:
    """The pytest command of a project's tasks, run from the task's copy of the project."""
    return (f"PYTHONPATH=src:.:$PYTHONPATH {python} -m pytest -q -p no:cacheprovider -o addopts= "
            "-o filterwarnings=")


@dataclass
class Built:
    project: str
    split: str
    kept: int = 0
    stats: dict = field(default_factory=dict)


def build(mirror: Path, out: Path, names: list[str] | None = None, max_lines: int = 10,
          on_progress=None) -> list[Built]:
    """Mine every project (or those named) into OUT/bugs.jsonl and OUT/tasks/SPLIT; resumable."""
    from debugger.data.history import HistoryStats, mine
    from debugger.data.schema import read_jsonl, write_jsonl
    out = Path(out)
    records = out / "bugs.jsonl"
    seen = {json.loads(r.provenance).get("commit", "") for r in read_jsonl(records)} if records.exists() else set()
    skips = out / "judged.jsonl"  # commits whose tests ran and did not make a bug: a rerun does not run them again
    judged = {r["commit"]: r["why"] for r in map(json.loads, skips.read_text().splitlines())} if skips.exists() else {}

    def remember(commit: str, why: str) -> None:
        out.mkdir(parents=True, exist_ok=True)
        with skips.open("a") as f:
            f.write(json.dumps({"commit": commit, "why": why}) + "\n")
    chosen = [p for p in projects() if not names or p.name in names]
    missing = sorted(set(names or []) - {p.name for p in chosen})
    if missing:
        raise ValueError(f"no such project in {MANIFEST.name}: {', '.join(missing)}")
    built = []
    for p in chosen:
        repo = p.mirror(mirror)
        if not repo.exists():
            raise ValueError(f"{repo}: no mirror of {p.repo} (fetch it first)")
        python = environment(p, out)
        stats = HistoryStats(p.name)
        t0 = time.monotonic()
        for rec in mine(repo, limit=p.commits, command=command(python), name=p.name, max_lines=max_lines,
                        seen=seen, stats=stats, tasks=out / "tasks" / p.split, judged=judged, on_judged=remember,
                        on_progress=(lambda done, total, name=p.name: on_progress(name, done, total))
                        if on_progress else None):
            rec.provenance = json.dumps({**json.loads(rec.provenance), "split": p.split, "repo": p.repo})
            write_jsonl(records, [rec], append=True)  # as found: an interrupted build keeps what it mined
        b = Built(p.name, p.split, stats.kept, {"commits": stats.commits, "candidates": stats.candidates,
                                                 "kept": stats.kept, "skipped": dict(stats.skipped),
                                                 "seconds": round(time.monotonic() - t0, 1)})
        log = out / "build.jsonl"
        with log.open("a") as f:
            f.write(json.dumps({"project": p.name, "split": p.split, **b.stats}) + "\n")
        built.append(b)
    return built


def summary(out: Path) -> dict:
    """Bugs per split and project, from the tasks on disk."""
    counts: dict = {}
    for split in SPLITS:
        for task in sorted((Path(out) / "tasks" / split).glob("*/task.json")):
            project = task.parent.name.rsplit("-", 1)[0]
            counts.setdefault(split, {}).setdefault(project, 0)
            counts[split][project] += 1
    return {s: {"bugs": sum(c.values()), "projects": len(c), "per_project": c} for s, c in counts.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m debugger.eval.realbugs", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="mine the projects' histories into tasks (resumable)")
    b.add_argument("--mirror", required=True, help="folder of mirrors: MIRROR/owner+name/repo")
    b.add_argument("--out", required=True)
    b.add_argument("--project", action="append", help="only this project (repeatable)")
    b.add_argument("--max-lines", type=int, default=10, help="the largest fix kept, in changed lines")
    s = sub.add_parser("summary", help="bugs per split and project")
    s.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "summary":
        print(json.dumps(summary(Path(a.out)), indent=1))
        return 0
    try:
        for done in build(Path(a.mirror), Path(a.out), a.project, a.max_lines,
                          on_progress=lambda name, i, n: print(f"\r{name} {i}/{n}", end="", file=sys.stderr)):
            print(f"\n{json.dumps({'project': done.project, 'split': done.split, **done.stats})}")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
