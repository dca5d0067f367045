"""Write a verified fix into the user's file, and take it back.

A write is atomic (same-directory temp file, fsync, os.replace), keeps the file's mode, and happens only
if the file still holds the bytes that were read, no merge or rebase is under way, and the path does not
lead out of the project through a symlink. Each write leaves an undo record (the exact previous bytes,
readable by the user only) that `undo` restores only while the file still holds what we wrote.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from .source import InputError, SourceFile

GIT_BUSY = {"MERGE_HEAD": "a merge", "CHERRY_PICK_HEAD": "a cherry-pick", "REVERT_HEAD": "a revert",
            "rebase-merge": "a rebase", "rebase-apply": "a rebase or am", "BISECT_LOG": "a bisect"}
CONFIG_FILES = {"conftest.py", "setup.py", "noxfile.py", "manage.py"}


def check_target(src: SourceFile, apply: bool = False) -> None:
    """Tests are the specification: repairing them would be grading our own work. A file pytest collects
    (its default names, or the project's own `python_files` patterns) is a test file."""
    import fnmatch
    name, parts = src.path.name, src.rel.split("/")
    patterns = python_files(src.root)
    if name in CONFIG_FILES or name.startswith("test_") or name.endswith("_test.py") or \
            any(p in ("tests", "test") for p in parts[:-1]) or any(fnmatch.fnmatch(name, p) for p in patterns):
        raise InputError(f"{src.rel}: is a test or configuration file; debugger repairs the code the tests "
                         "check, never the tests")
    # the mode bits too: root may write anything, but a file without write bits was made read-only on purpose
    if apply and (not os.access(src.path, os.W_OK) or not src.mode & 0o200):
        raise InputError(f"{src.rel}: is read-only; --apply will not replace it (make it writable first)")


def python_files(root: Path) -> list[str]:
    """pytest's `python_files` patterns from the project's pytest.ini, pyproject.toml, tox.ini or setup.cfg."""
    import configparser

    from .config import read_toml
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            opts = read_toml(pyproject).get("tool", {}).get("pytest", {}).get("ini_options", {})
        except InputError:
            opts = {}
        value = opts.get("python_files")
        if value:
            return value.split() if isinstance(value, str) else [str(v) for v in value]
    for name, section in (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = root / name
        if path.is_file():
            cp = configparser.ConfigParser(interpolation=None)
            try:
                cp.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
            if cp.has_option(section, "python_files"):
                return cp.get(section, "python_files").split()
    return []


def _git_dir(root: Path) -> Path | None:
    for d in [root, *root.parents]:
        g = d / ".git"
        if g.is_dir():
            return g
        if g.is_file():  # worktrees and submodules: "gitdir: PATH"
            text = g.read_text(errors="replace").strip()
            if text.startswith("gitdir:"):
                p = Path(text[7:].strip())
                return p if p.is_absolute() else (d / p).resolve()
    return None


def check_repo_state(src: SourceFile) -> None:
    git = _git_dir(src.root)
    if git is None:
        return
    for marker, what in GIT_BUSY.items():
        if (git / marker).exists():
            raise InputError(f"{what} is in progress in {git.parent}; not writing (finish or abort it first)")


def _atomic_write(target: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".debugger-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def undo_record(path: Path) -> Path:
    from .engines.packs import home
    return home() / "undo" / (_sha(str(path.resolve()).encode()) + ".json")


def apply(src: SourceFile, data: bytes) -> None:
    """Replace src.path with `data`, atomically; leaves an undo record first."""
    if src.path.is_symlink() and not src.path.resolve().is_relative_to(src.root):
        raise InputError(f"{src.path}: symlink leads outside the project; not writing through it")
    check_repo_state(src)
    target = src.path.resolve()
    if _sha(target.read_bytes()) != src.sha256:
        raise InputError(f"{src.path}: changed on disk since it was read; not applied (run again)")
    record = undo_record(target)
    record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = {"path": str(target), "before": base64.b64encode(src.raw).decode(), "mode": src.mode & 0o7777,
             "after_sha256": _sha(data), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds source: the user's eyes only
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f)
    _atomic_write(target, data, src.mode)


def undo(path: str | os.PathLike) -> Path:
    """Put back the bytes the last --apply replaced, if the file still holds exactly what it wrote and is
    writable; the file keeps the mode it has now."""
    target = Path(path).expanduser()
    if not target.exists():
        raise InputError(f"{path}: no such file")
    target = target.resolve()
    record = undo_record(target)
    if not record.exists():
        raise InputError(f"{path}: nothing to undo (no fix was applied to it here)")
    try:
        entry = json.loads(record.read_text(encoding="utf-8"))
        before = base64.b64decode(entry["before"], validate=True)
        after = entry["after_sha256"]
        if not isinstance(after, str):
            raise ValueError("after_sha256 is not a string")
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise InputError(f"the undo record {record} cannot be read ({e}); nothing was changed") from None
    if _sha(target.read_bytes()) != after:
        raise InputError(f"{path}: changed since debugger wrote it; not undoing (your edits would be lost)")
    mode = target.stat().st_mode
    if not os.access(target, os.W_OK) or not mode & 0o200:
        raise InputError(f"{path}: is read-only; not undoing (make it writable first)")
    _atomic_write(target, before, mode)
    record.unlink()
    return target
