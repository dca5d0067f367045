"""Fakes and tiny projects the tests share: a scripted generator, a scoring model, and small projects with their
baseline test runs. (The deterministic reference-file model is `fake:FILE`, debugger/engines/fake.py.)"""
from __future__ import annotations

import subprocess
from pathlib import Path

from debugger.generate import Completion
from debugger.prompts import QWEN
from debugger.sandbox import remove_copy, scratch_copy
from debugger.source import load
from debugger.testrun import default_command, run_tests


class Scripted:
    """Answers an infill of `line` with `answers` (the plain, greedy prompt's, first of them greedy) or `hinted`
    (the sampled prompt that shows the failure, when given); anything else with the original, a no-op.
    `on_call(prompt)` sees every prompt first; `calls` records what was asked of it."""
    name = "scripted"
    engine = "fake"
    fim = QWEN

    def __init__(self, line: int, answers: list[str], hinted: list[str] | None = None, on_call=None):
        self.line, self.answers, self.hinted, self.on_call = line, list(answers), hinted, on_call
        self.calls = []  # (prompt, greedy, samples) asked

    def complete(self, prompt, samples, temperature, greedy=True, deadline=None):
        if self.on_call:
            self.on_call(prompt)
        self.calls.append((prompt, greedy, samples))
        if prompt.kind == "infill" and prompt.start_line == self.line and (greedy or self.hinted is not None):
            answers = self.hinted if (self.hinted is not None and prompt.hinted) else self.answers
            return [Completion(a + "<|endoftext|>", 5, i == 0) for i, a in enumerate(answers)]
        return [Completion(prompt.original + "<|endoftext|>", 1, True)]


class ScoringModel:
    """Reads like a model: a fixed surprisal, and an infill pass whose regret is high on one line."""
    name = "scoring"
    engine = "fake"

    def __init__(self, odd_line: str):
        self.odd, self.pieces = odd_line, []

    def line_surprisal(self, text, lines, tokens=False):
        return {ln: [1.0] for lo, hi in lines for ln in range(lo, hi + 1) if text.splitlines()[ln - 1].strip()}

    def infill_nll(self, pieces):
        self.pieces = pieces
        return [[(5.0, 0.5)] if m.strip() == self.odd else [(1.0, 1.0)] for _b, m, _a in pieces]


def baseline(src):
    """The project's tests against `src`, line recording on, in a scratch copy."""
    copy = scratch_copy(src.root)
    try:
        return run_tests(copy, default_command(), target=src.rel)
    finally:
        remove_copy(copy)


BRANCHY = '''def grade(score):
    label = "unknown"
    if score > 50:
        label = "pass"
    else:
        label = "fail"
    return label
'''
BRANCHY_TESTS = '''from m import grade

def test_high():
    assert grade(90) == "pass"

def test_edge():
    assert grade(50) == "pass"
'''


def tiny_project(tmp_path: Path, code: str, tests: str):
    """A project of m.py and tests/test_m.py: its source file and its baseline run."""
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    (root / "m.py").write_text(code)
    (root / "tests" / "test_m.py").write_text(tests)
    src = load(root / "m.py")
    return src, baseline(src)


def branchy(tmp_path: Path):
    """The BRANCHY project, its source file and its baseline run."""
    return tiny_project(tmp_path, BRANCHY, BRANCHY_TESTS)


# -- a git history: a clamp with the wrong bound, fixed by a commit that came with its test --------------------
CALC = ("def add(a, b):\n    return a + b\n\n\n"
        "def clamp(x, lo, hi):\n    return max(lo, min(x, lo))\n")
TESTS = "from calc import add, clamp\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
CLAMP_TEST = "\n\ndef test_clamp():\n    assert clamp(5, 0, 10) == 5\n    assert clamp(12, 0, 10) == 10\n"


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "PATH": "/usr/bin:/bin", "HOME": str(repo)}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()
