"""Benchmark tasks on disk, and converters that produce them.

A benchmark is a directory of tasks; a task is a folder holding
    task.json   {"id", "file" (relative to task/), "test" (shell command), optional "judge" (shell command
                 for hidden tests the tool never sees), optional "bug_kind", optional "fix_lines" [start, end]
                 (the buggy file's lines the reference fix changes; end < start: it only adds lines before start)}
    task/       the project, which is the working directory of both commands
Files beside task/ (hidden judge tests) are never given to the tool.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
JUDGES = Path(__file__).resolve().parent / "judges"
PYTEST = "python -m pytest -q -p no:cacheprovider"


@dataclass
class Task:
    id: str
    file: str
    test: str
    judge: str | None = None
    bug_kind: str | None = None
    fix_lines: list[int] | None = None
    dir: Path = field(default=Path("."), compare=False)

    @property
    def project(self) -> Path:
        return self.dir / "task"

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("dir")
        return {k: v for k, v in d.items() if v is not None}


def fix_targets(fix_lines: list[int] | tuple[int, int] | None, text: str) -> list[tuple[int, int]]:
    """The line ranges a span may contain to hold the reference fix: the changed lines; for an insertion,
    the statement before the gap or the first one after it (comments, blank lines and a bare `try:`
    between are no statement)."""
    if not fix_lines:
        return []
    s, e = fix_lines
    if e >= s:
        return [(s, e)]
    from debugger.spans import statements
    stmts = statements(text)
    before = [(x.start_line, x.end_line) for x in stmts if x.end_line < s][-1:]
    after = [(x.start_line, x.end_line) for x in stmts if x.start_line >= s][:1]
    return before + after


def holds(targets: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start <= a and b <= end for a, b in targets)


class TaskError(ValueError):
    pass


def load_task(folder: Path) -> Task:
    meta = folder / "task.json"
    try:
        d = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise TaskError(f"{meta}: {e}") from None
    missing = [k for k in ("id", "file", "test") if k not in d]
    if missing:
        raise TaskError(f"{meta}: missing {', '.join(missing)}")
    t = Task(**{k: d.get(k) for k in ("id", "file", "test", "judge", "bug_kind", "fix_lines")}, dir=folder)
    if not (t.project / t.file).is_file():
        raise TaskError(f"{meta}: {t.file} is not in {t.project}")
    return t


def load_bench(bench: Path) -> list[Task]:
    if not bench.is_dir():
        raise TaskError(f"{bench}: not a directory of tasks")
    tasks = [load_task(d) for d in sorted(bench.iterdir()) if (d / "task.json").is_file()]
    if not tasks:
        raise TaskError(f"{bench}: no tasks (folders with task.json) found")
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise TaskError(f"{bench}: duplicate task ids")
    return tasks


def write_task(out: Path, task: Task, project: Path, judge_file: Path | None = None) -> Path:
    folder = out / task.id
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(project, folder / "task", ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache",
                                                                             "bug.json"))
    if judge_file is not None:
        shutil.copy(judge_file, folder / "judge_test.py")
        # the judge runs from task/ with the project importable, against the hidden file beside it
        task.judge = f"{PYTEST} --rootdir=. -c pyproject.toml ../judge_test.py"
    (folder / "task.json").write_text(json.dumps(task.to_json(), indent=2) + "\n")
    return folder


def from_examples(out: Path, examples: Path = EXAMPLES) -> list[Task]:
    """One task per bundled example; the hidden tests in eval/judges/ become the judge."""
    from debugger.data.corpus import example_bugs
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for d, bug in example_bugs(examples):
        judge = JUDGES / f"test_{d.name}.py"
        t = Task(id=d.name, file=bug["file"], test=PYTEST, bug_kind=bug.get("bug_kind"),
                 fix_lines=bug.get("fix_lines"))
        made.append(load_task(write_task(out, t, d, judge if judge.is_file() else None)))
    return made


def from_records(records_jsonl: Path, out: Path, *, split: str = "test", limit: int | None = None,
                 exclude: frozenset[str] | set[str] = frozenset()) -> list[Task]:
    """Tasks from data/ bug records: the pinned project source with the buggy file in place.

    The visible test command runs the test files of the record's failing tests; the judge runs the
    project's whole suite, which the tool never sees (it may cover behaviour the visible tests do not).
    `exclude`: projects left out (say, those whose suites are slow to run).
    """
    from debugger.data.corpus import PROJECTS, fetch
    from debugger.data.schema import read_jsonl

    pinned = {p.name: p for p in PROJECTS}
    recs = sorted((r for r in read_jsonl(records_jsonl) if r.split == split and r.project in pinned
                   and r.project not in exclude),
                  key=lambda r: r.id)[:limit]
    out.mkdir(parents=True, exist_ok=True)
    sources: dict[str, Path] = {}
    made = []
    for r in recs:
        if r.project not in sources:
            sources[r.project] = fetch(pinned[r.project], out / "_sources" / r.project)
        files = sorted({t.split("::")[0] for t in r.failing_tests})
        # the pinned command, not the record's: records made before a project's command was mended (say, to
        # drop addopts that need pytest-cov) would fail to start where that plugin is not installed
        command = pinned[r.project].test
        t = Task(id=f"{r.project}-{r.id}", file=r.path, test=f"{command} {' '.join(files)}",
                 judge=command, bug_kind=r.bug_kind, fix_lines=[r.start_line, r.end_line])
        folder = out / t.id
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(sources[r.project], folder / "task", ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "task" / r.path).write_text(r.buggy, encoding="utf-8")
        (folder / "task.json").write_text(json.dumps(t.to_json(), indent=2) + "\n")
        made.append(load_task(folder))
    return made
