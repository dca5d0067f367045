"""One bug record, versioned: JSONL on disk, `datasets.Dataset` in memory, a card beside the file.

Schema v1 (every field always present; empty string / list when unknown):
  id                 stable id: sha1 of project, path and the buggy file
  schema_version     1
  project, project_version, license
  path               file path inside the project
  buggy, fixed       the whole file before and after the fix (LF newlines)
  start_line, end_line   the buggy lines (1-based, inclusive) whose replacement by `fixed_span` gives `fixed`
  fixed_span         the replacement text ("" deletes the lines)
  failing_tests      node ids that fail on `buggy` and pass on `fixed`
  failure            the real test output/traceback on `buggy`, bounded, secrets redacted
  test_command       the command that produced it, run from the project root
  bug_kind           e.g. comparison_swap, off_by_one, ... (see data/mutations.py)
  source             "synthetic" (mutants) | "history" (fix commits) | "examples" | "import:<format>" | "user"
  split              train | valid | test ("" before splitting)
  provenance         JSON string: generator, mutation detail, tool version, git SHA, timestamps
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Iterator

SCHEMA_VERSION = 1
MAX_FAILURE = 6000


@dataclass
class BugRecord:
    project: str
    path: str
    buggy: str
    fixed: str
    start_line: int
    end_line: int
    fixed_span: str
    failing_tests: list[str]
    failure: str
    test_command: str
    bug_kind: str
    source: str = "synthetic"
    project_version: str = ""
    license: str = ""
    split: str = ""
    provenance: str = "{}"
    schema_version: int = SCHEMA_VERSION
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            h = hashlib.sha1(f"{self.project}\0{self.path}\0{self.buggy}".encode()).hexdigest()
            self.id = h[:16]
        self.failure = self.failure[-MAX_FAILURE:]

    def check(self) -> None:
        """Raise ValueError unless replacing the span of `buggy` by `fixed_span` gives `fixed`."""
        lines = self.buggy.splitlines(keepends=True)
        if not (1 <= self.start_line <= len(lines) + 1 and self.start_line - 1 <= self.end_line <= len(lines)):
            raise ValueError(f"{self.id}: span {self.start_line}-{self.end_line} outside the file")
        got = "".join(lines[:self.start_line - 1]) + self.fixed_span + "".join(lines[self.end_line:])
        if got != self.fixed:
            raise ValueError(f"{self.id}: buggy + fixed_span != fixed")


def span_between(buggy: str, fixed: str) -> tuple[int, int, str]:
    """(start_line, end_line, fixed_span): the smallest line range of `buggy` whose replacement gives `fixed`."""
    b, f = buggy.splitlines(keepends=True), fixed.splitlines(keepends=True)
    pre = 0
    while pre < min(len(b), len(f)) and b[pre] == f[pre]:
        pre += 1
    suf = 0
    while suf < min(len(b), len(f)) - pre and b[-1 - suf] == f[-1 - suf]:
        suf += 1
    return pre + 1, len(b) - suf, "".join(f[pre:len(f) - suf])


def features():
    from datasets import Features, Sequence, Value
    types = {"start_line": Value("int32"), "end_line": Value("int32"), "schema_version": Value("int32"),
             "failing_tests": Sequence(Value("string"))}
    return Features({f.name: types.get(f.name, Value("string")) for f in fields(BugRecord)})


def write_jsonl(path: Path, records: Iterable[BugRecord], append: bool = False) -> int:
    """Write (or append) records; secret-looking strings are redacted on the way to disk."""
    from debugger.redact import redact
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        for r in records:
            d = asdict(r)
            for k in ("buggy", "fixed", "fixed_span", "failure"):
                d[k] = redact(d[k])
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> Iterator[BugRecord]:
    names = {f.name for f in fields(BugRecord)}
    with open(path, encoding="utf-8") as f:
        for ln in f:
            if ln.strip():
                d = json.loads(ln)
                if d.get("schema_version", 1) != SCHEMA_VERSION:
                    raise ValueError(f"{path}: schema_version {d.get('schema_version')} (expected {SCHEMA_VERSION})")
                yield BugRecord(**{k: v for k, v in d.items() if k in names})


def load(path: str | os.PathLike, split: str | None = None):
    """The records as a `datasets.Dataset` with explicit features (optionally one split only)."""
    from datasets import load_dataset
    ds = load_dataset("json", data_files=str(path), features=features(), split="train")
    return ds.filter(lambda r: r["split"] == split) if split else ds


def write_card(path: Path, records: list[BugRecord], extra: dict | None = None) -> Path:
    """README.md beside the JSONL: counts per split, kind and project, plus generation figures."""
    card = path.with_name(path.stem + ".README.md")
    by = lambda key: Counter(getattr(r, key) or "-" for r in records)  # noqa: E731
    lines = [f"# Bug dataset `{path.name}`", "", f"Schema v{SCHEMA_VERSION} (see data/schema.py). "
             f"{len(records)} records from {len(by('project'))} projects.", ""]
    for title, key in (("Split", "split"), ("Bug kind", "bug_kind"), ("Project", "project"), ("Source", "source")):
        lines += [f"## {title}", "", "| value | records |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(by(key).items())]
        lines.append("")
    kinds = sorted(by("bug_kind"))
    per = Counter((r.project, r.bug_kind or "-") for r in records)
    lines += ["## Bug kind per project", "", "| project | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    lines += [f"| {p} | " + " | ".join(str(per[p, k] or "") for k in kinds) + " |" for p in sorted(by("project"))]
    lines.append("")
    extra = dict(extra or {})
    figures = extra.pop("projects", None)
    if figures:
        split_of = {r.project: r.split for r in records}
        lines += ["## Generation per project", "",
                  "Mutants tried, kept, yield and minutes add up over the logged generation runs (an early run's "
                  "log was lost for some projects, so `records` can exceed `kept`).", "",
                  "| project | version | licence | split | records | tried | kept | yield | minutes |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, f in sorted(figures.items()):
            if "error" in f and "tried" not in f:
                lines.append(f"| {name} | | | | {by('project')[name]} | error: {f['error'][:80]} | | | |")
                continue
            lines.append(f"| {name} | {f.get('version', '')} | {f.get('license', '')} | {split_of.get(name, '-')} | "
                         f"{by('project')[name]} | {f.get('tried', 0)} | {f.get('kept', 0)} | "
                         f"{f['yield'] if f.get('yield') is not None else '-'} | {f.get('seconds', 0) / 60:.1f} |")
        lines.append("")
    if extra:
        lines += ["## Generation", "", "```json", json.dumps(extra, indent=2), "```", ""]
    card.write_text("\n".join(lines))
    return card
