"""The pre-commit hook: test what is staged, and only when something breaks, load the model and suggest.

It works on the index (`git checkout-index` into a scratch directory), so unstaged hunks in the work
tree are never read, run or touched. Tests related to a staged file are found by name (test_mod.py)
and by import, from a map cached in the git directory; the fast path (all related tests pass) imports
no torch.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HookError

SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "build", "dist"}
MARK = "# installed by debugger hook install"


def git(*args: str, cwd: Path, check: bool = True) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise HookError(f"git {' '.join(args)}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout.strip()


def repo_root(cwd: Path) -> Path:
    try:
        return Path(git("rev-parse", "--show-toplevel", cwd=cwd))
    except (HookError, FileNotFoundError):
        raise HookError("not inside a git repository") from None


def staged_python(root: Path) -> list[str]:
    out = git("diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z", cwd=root)
    return [f for f in out.split("\0") if f.endswith(".py")]


def snapshot(root: Path) -> Path:
    """The index, exactly as it would be committed, written into a scratch directory."""
    dest = Path(tempfile.mkdtemp(prefix="debugger-hook-")) / root.name
    dest.mkdir()
    git("checkout-index", "--all", f"--prefix={dest}/", cwd=root)
    return dest


# -- related tests -------------------------------------------------------------------------------

def _is_test(path: str) -> bool:
    name = os.path.basename(path)
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _imports(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, re.M)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_map(root: Path, files: list[str]) -> dict[str, list[str]]:
    """test file -> modules it imports, cached by (mtime, size) in the git directory."""
    cache_file = Path(git("rev-parse", "--git-path", "debugger/testmap.json", cwd=root))
    if not cache_file.is_absolute():
        cache_file = root / cache_file
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, json.JSONDecodeError):
        cache = {}
    out, changed = {}, False
    for rel in files:
        if not _is_test(rel):
            continue
        p = root / rel
        try:
            st = p.stat()
        except OSError:
            continue
        key = f"{st.st_mtime_ns}:{st.st_size}"
        hit = cache.get(rel)
        if hit and hit["key"] == key:
            out[rel] = hit["imports"]
            continue
        imports = _imports(p.read_text(encoding="utf-8", errors="replace"))
        cache[rel], out[rel], changed = {"key": key, "imports": imports}, imports, True
    if changed:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, cache_file)
    return out


def _module_names(rel: str) -> set[str]:
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return {".".join(parts[i:]) for i in range(len(parts))}


def related_tests(root: Path, staged: list[str]) -> list[str]:
    tracked = git("ls-files", "-z", cwd=root).split("\0")
    tmap = test_map(root, [f for f in tracked if f and not (set(f.split("/")) & SKIP)])
    related: list[str] = []
    for rel in staged:
        if _is_test(rel):
            related.append(rel)
            continue
        names = _module_names(rel)
        stem = os.path.basename(rel)[:-3]
        for test, imports in tmap.items():
            base = os.path.basename(test)
            if base in (f"test_{stem}.py", f"{stem}_test.py") or names & set(imports):
                related.append(test)
    return list(dict.fromkeys(related))


# -- the hook --------------------------------------------------------------------------------------

@dataclass
class Suggestion:
    file: str
    status: str
    diff: str = ""
    error: str | None = None


@dataclass
class HookResult:
    files: list[str]
    tests: list[str]
    failing: list[str] = field(default_factory=list)
    syntax_errors: list[str] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    seconds: float = 0.0
    test_seconds: float = 0.0
    over_budget: bool = False

    @property
    def broken(self) -> bool:
        return bool(self.failing or self.syntax_errors)


def project_command(root: Path) -> str:
    """pytest from the project's own virtualenv when it has one: the hook's environment (pre-commit
    builds its own) lacks the project's dependencies."""
    import shlex
    for name in (".venv", "venv", "env"):
        py = root / name / "bin" / "python"
        if (root / name / "pyvenv.cfg").is_file() and py.exists():
            return f"{shlex.quote(str(py))} -m pytest"
    from .testrun import default_command
    return default_command()


def run(cwd: Path, files: list[str] | None = None, *, budget: float = 300.0, repair: bool = True,
        model: str | None = None, test: str | None = None, on_event=None) -> HookResult:
    t0 = time.monotonic()
    root = repo_root(cwd)
    if files:  # from the pre-commit framework (also with --all-files): any tracked Python file given
        tracked = set(git("ls-files", "-z", cwd=root).split("\0"))
        staged = [f for f in dict.fromkeys(Path(f).as_posix() for f in files) if f.endswith(".py") and f in tracked]
    else:
        staged = staged_python(root)
    result = HookResult(staged, [])
    if not staged:
        return result
    snap = snapshot(root)
    try:
        for rel in staged:
            try:
                compile((snap / rel).read_bytes(), rel, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                result.syntax_errors.append(rel)
        result.tests = related_tests(root, staged)
        if result.tests:
            from .testrun import run_tests
            command = (test or project_command(root)) + " " + " ".join(shlex.quote(t) for t in result.tests)
            rep = run_tests(snap, command, timeout=max(10.0, budget), test_timeout=30)
            result.test_seconds = rep.seconds
            result.failing = rep.failing
        if result.broken and repair:
            result.suggestions = _suggest(snap, staged, result, t0, budget, model, test or project_command(root),
                                          on_event)
    finally:
        shutil.rmtree(snap.parent, ignore_errors=True)
    result.seconds = time.monotonic() - t0
    return result


def _suggest(snap: Path, staged: list[str], result: HookResult, t0: float, budget: float, model, test: str,
             on_event):
    from .config import resolve
    from .engines.packs import PackError
    from .pipeline import fix
    from .source import InputError

    out = []
    targets = [f for f in staged if not _is_test(f)] or staged
    for rel in targets:
        left = budget - (time.monotonic() - t0)
        if left <= 5:
            result.over_budget = True
            out.append(Suggestion(rel, "skipped", error=f"hook budget of {budget:.0f}s used up"))
            continue
        cfg = resolve(snap, {"model": model, "budget": left, "test": test})
        try:
            r = fix(str(snap / rel), cfg, root=str(snap), on_event=on_event)
            out.append(Suggestion(rel, r.status, r.diff, r.error))
        except (InputError, PackError) as e:
            out.append(Suggestion(rel, "error", error=str(e)))
        except ImportError as e:  # the hook's environment has no model stack installed
            out.append(Suggestion(rel, "error", error=f"{e}; install it with pip install 'debugger[model]'"))
    return out


# -- plain git install -----------------------------------------------------------------------------

def hooks_dir(root: Path, force: bool) -> Path:
    custom = git("config", "core.hooksPath", cwd=root, check=False)
    if custom and not force:
        raise HookError(f"core.hooksPath is set ({custom}): another tool manages hooks; use --force to install there")
    d = Path(git("rev-parse", "--git-path", "hooks", cwd=root))
    return d if d.is_absolute() else root / d


SAVED = "pre-commit.debugger-saved"  # the hook ours replaced; not `.legacy`, which the pre-commit framework owns


def install(cwd: Path, *, check: bool = False, force: bool = False, python: str | None = None) -> Path:
    """Install ours as `pre-commit`, keeping the hook it replaces as pre-commit.debugger-saved and running it
    first. The pre-commit framework moves a foreign hook to pre-commit.legacy and runs that: installed after
    us it runs ours, which runs what we saved; installed before, its own script is what we save."""
    import sys
    root = repo_root(cwd)
    d = hooks_dir(root, force)
    d.mkdir(parents=True, exist_ok=True)
    hook, saved = d / "pre-commit", d / SAVED
    ours = [h for h in (hook, d / "pre-commit.legacy") if h.is_file() and MARK in h.read_text(errors="replace")]
    if ours:  # installed already: rewritten where it is (e.g. to switch --check), the saved hook untouched
        hook = ours[0]
    elif hook.exists():
        if saved.exists():
            raise HookError(f"{saved} already exists; remove it or uninstall first")
        os.replace(hook, saved)
    mode = " --check" if check else ""
    tmp = hook.with_name("pre-commit.debugger-tmp")
    tmp.write_text(f"""#!/usr/bin/env bash
{MARK}
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$HERE/{SAVED}" ]; then "$HERE/{SAVED}" "$@" || exit $?; fi
exec "{python or sys.executable}" -m debugger.cli hook run{mode}
""")
    tmp.chmod(0o755)
    os.replace(tmp, hook)
    return hook


def uninstall(cwd: Path, *, force: bool = False) -> bool:
    """Remove ours wherever it is (`pre-commit`, or `pre-commit.legacy` where the pre-commit framework moved
    it) and put the hook it replaced back in its place."""
    root = repo_root(cwd)
    d = hooks_dir(root, force)
    saved = d / SAVED
    for hook in (d / "pre-commit", d / "pre-commit.legacy"):
        if hook.is_file() and MARK in hook.read_text(errors="replace"):
            hook.unlink()
            if saved.exists():
                os.replace(saved, hook)
            return True
    return False
