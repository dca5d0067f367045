"""The real-code corpus, rebuilt with one command: `debugger data corpus` (its defaults are the recipe).

Pinned pure-Python projects whose source distributions on PyPI include their test suites (and whose
suites pass here with pytest alone) are downloaded, unpacked, and mutated by `synth`; the repo's own
examples are added from their recorded fixes. Splits are by project; the test split is held out for
evaluation only. Generation time and yield per project go into the dataset card.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .schema import BugRecord, read_jsonl, span_between, write_card, write_jsonl
from .synth import split_by_project, synth


@dataclass(frozen=True)
class Project:
    name: str  # PyPI distribution
    version: str
    license: str
    test: str = "python -m pytest -q"  # run from the unpacked sdist


SRC = "PYTHONPATH=src:$PYTHONPATH python -m pytest -q"
PROJECTS = [
    Project("boltons", "26.2.0", "BSD-3-Clause", "python -m pytest -q tests"),
    Project("cachetools", "8.0.1", "MIT", SRC),
    Project("inflection", "0.5.1", "MIT"),
    Project("isodate", "0.7.2", "BSD-3-Clause", SRC),
    Project("more-itertools", "11.2.1", "MIT"),
    Project("ordered-set", "4.1.0", "MIT"),
    Project("parse", "1.22.4", "MIT", "python -m pytest -q -o addopts="),  # its addopts need pytest-cov
    Project("pathspec", "1.1.1", "MPL-2.0"),
    Project("python-slugify", "9.2.0", "MIT"),
    Project("semver", "3.1.1", "BSD-3-Clause", "python -m pytest -q -o addopts="),  # addopts need pytest-cov
    Project("six", "1.17.0", "MIT"),
    Project("sqlparse", "0.6.1", "BSD-3-Clause"),
    Project("tabulate", "0.10.0", "MIT"),
    Project("text-unidecode", "1.3", "Artistic-1.0 OR GPL-2.0+", SRC),
    Project("toolz", "1.2.0", "BSD-3-Clause"),
    Project("xmltodict", "1.0.4", "MIT"),
]
REBUILD = "debugger data corpus (per kind 2, 350 new mutants per project and run; resumable)"
TEST_PROJECTS = {"inflection", "isodate", "xmltodict", "examples"}  # held out: evaluation only
VALID_PROJECTS = {"ordered-set"}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def fetch(p: Project, dest: Path) -> Path:
    """Download and unpack the pinned sdist; returns the project directory."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-q", "-d",
                    str(dest), f"{p.name}=={p.version}"], check=True, capture_output=True)
    stem = f"{p.name}-{p.version}".replace("-", "_").lower()  # sdists name themselves either way
    norm = lambda path: path.name.replace("-", "_").lower()  # noqa: E731
    archive = next(a for a in dest.iterdir() if norm(a) == stem + ".tar.gz")
    with tarfile.open(archive) as tf:
        tf.extractall(dest, filter="data")
    return next(d for d in dest.iterdir() if d.is_dir() and norm(d) == stem)


def example_bugs(examples: Path = EXAMPLES) -> Iterator[tuple[Path, dict]]:
    """(example dir, its bug.json) for every bundled example."""
    for d in sorted(examples.iterdir()):
        if (d / "bug.json").is_file():
            yield d, json.loads((d / "bug.json").read_text())


def example_records() -> list[BugRecord]:
    """The bundled examples as records: their recorded fixes and the failures they really produce."""
    from .importers import _failure
    recs = []
    for d, bug in example_bugs():
        buggy = (d / bug["file"]).read_text()
        lines = buggy.splitlines(keepends=True)
        s, e = bug["span"]
        fixed = "".join(lines[:s - 1]) + bug["fixed_span"] + "".join(lines[e:])
        start, end, span = span_between(buggy, fixed)
        failing, failure = _failure(d, "python -m pytest -q", test_timeout=5)
        recs.append(BugRecord(project="examples", path=f"{d.name}/{bug['file']}", buggy=buggy, fixed=fixed,
                              start_line=start, end_line=end, fixed_span=span, failing_tests=failing,
                              failure=failure, test_command="python -m pytest -q", bug_kind=bug["bug_kind"],
                              source="examples", provenance=json.dumps({"example": d.name})))
    return recs


def build(out: Path, *, projects: list[str] | None = None, jobs: int = 2, per_kind: int = 1,
          max_per_project: int | None = None, on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Resumable: projects already in OUT keep their records and only untried mutants run."""
    chosen = [p for p in PROJECTS if not projects or p.name in projects]
    stats_file = out.with_name(out.name + ".stats.json")  # figures add up over resumed runs
    figures = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    with tempfile.TemporaryDirectory(prefix="debugger-corpus-") as tmp:
        for p in chosen:
            t0 = time.monotonic()
            root = fetch(p, Path(tmp) / p.name)
            try:
                stats = synth(root, out, command=p.test, jobs=jobs, per_kind=per_kind, max_mutants=max_per_project,
                              plugin_autoload=False,  # every pinned suite passes with pytest alone
                              name=p.name, version=p.version, license=p.license, on_progress=on_progress)
            except ValueError as e:  # a red baseline here: the other projects still count
                figures.setdefault(p.name, {})["error"] = str(e)
                stats_file.write_text(json.dumps(figures, indent=1))
                continue
            prev = figures.get(p.name, {})
            tried, kept = prev.get("tried", 0) + stats.tried, prev.get("kept", 0) + stats.kept
            kinds = Counter(prev.get("kinds", {})) + stats.kinds
            figures[p.name] = {"version": p.version, "license": p.license, "tried": tried, "kept": kept,
                               "yield": round(kept / tried, 3) if tried else None,
                               "seconds": round(prev.get("seconds", 0) + time.monotonic() - t0, 1),
                               "kinds": dict(kinds)}
            stats_file.write_text(json.dumps(figures, indent=1))
    records = [r for r in (read_jsonl(out) if out.exists() else []) if r.project != "examples"]
    records += example_records()
    split_by_project(records, TEST_PROJECTS, VALID_PROJECTS)
    write_jsonl(out, records)
    write_card(out, records, {"projects": figures, "rebuild": REBUILD, "held_out": sorted(TEST_PROJECTS),
                              "valid": sorted(VALID_PROJECTS)})
    return figures
