"""The fix a `debugger fix` verified, kept so that `debugger apply` writes exactly that diff, later, without
repairing again.

A record holds the fixed file's bytes, the hash of the bytes they were validated against and the test
command that validated them; it is keyed by the file's path and that command, and readable by the user
only (it holds source). `take` hands it out only while the file still holds the validated bytes: a file
edited since, or a different test command, is refused with the reason.
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from .source import InputError, SourceFile, load
from .writer import _sha


def _folder() -> Path:
    from .packs import home
    return home() / "verified"


def _record(path: Path, command: str) -> Path:
    return _folder() / (_sha(f"{path.resolve()}\0{command}".encode()) + ".json")


def keep(path: str, root: str, before_sha256: str, fixed: bytes, command: str, diff: str,
         confidence: dict | None) -> Path:
    """Keep a verified fix of `path` (validated against bytes hashing to `before_sha256`)."""
    target = Path(path).resolve()
    record = _record(target, command)
    record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = {"path": str(target), "root": root, "command": command, "before_sha256": before_sha256,
             "after": base64.b64encode(fixed).decode(), "diff": diff, "confidence": confidence,
             "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f)
    return record


def take(path: str, command: str) -> tuple[SourceFile, bytes, dict]:
    """(the file as it is now, the verified bytes to write, the record), or a one-line InputError saying why
    not. The record is removed once taken: after the write it no longer matches the file anyway."""
    target = Path(path).expanduser()
    if not target.is_file():
        raise InputError(f"{path}: no such file")
    record = _record(target, command)
    if not record.exists():
        others = [json.loads(r.read_text()) for r in _folder().glob("*.json")] if _folder().is_dir() else []
        other = next((e for e in others if e.get("path") == str(target.resolve())), None)
        if other is not None:
            raise InputError(f"{path}: the verified fix was validated with another test command "
                             f"({other['command']}); run `debugger apply` with --test {other['command']!r}")
        raise InputError(f"{path}: no verified fix to apply; run `debugger fix {path}` first")
    entry = json.loads(record.read_text())
    src = load(str(target), entry.get("root"))
    if src.sha256 != entry["before_sha256"]:
        raise InputError(f"{path}: changed since `debugger fix` verified a fix for it ({entry['time']}); "
                         "not applying a diff validated against other bytes (run `debugger fix` again)")
    return src, base64.b64decode(entry["after"]), entry


def forget(path: str, command: str) -> None:
    _record(Path(path).expanduser(), command).unlink(missing_ok=True)
