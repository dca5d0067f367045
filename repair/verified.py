"""The fix a `debugger fix` verified, kept so that `debugger apply` writes exactly that diff, later, without
repairing again.

A record holds the fixed file's bytes, the hash of the bytes they were validated against, the test
command that validated them and the hash of every other file of the project as the tests saw it (`tree`:
the tests, conftest, data files); it is keyed by the file's path and that command, and readable by the
user only (it holds source). `take` hands it out only while the file still holds the validated bytes and
the rest of the project is as it was: a file edited since, tests changed (an edit, another branch, another
project at the same path) or a different test command are refused with the reason, and so is a record that
cannot be read.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from pathlib import Path

from .source import InputError, SourceFile, load
from .writer import _sha


def _folder() -> Path:
    from .engines.packs import home
    return home() / "verified"


def _record(path: Path, command: str) -> Path:
    return _folder() / (_sha(f"{path.resolve()}\0{command}".encode()) + ".json")


NOISE = (".coverage", ".DS_Store")  # written by tools beside the tests, never read by them


def tree(root: str | Path, target: str) -> dict[str, str]:
    """sha256 of every file of the project a scratch copy holds (sandbox.scratch_copy's rules), but `target`
    (its relative path): what the tests of a repair ran beside the file under repair."""
    from .sandbox import _ignore
    root = Path(root)
    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _ignore(folder, dirs) and not os.path.islink(os.path.join(folder, d)))
        links = [d for d in os.listdir(folder) if os.path.islink(os.path.join(folder, d)) and d not in files]
        for name in sorted(files + links):
            if name.startswith(NOISE) or name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if rel == target:
                continue
            try:
                if os.path.islink(full):
                    out[rel] = "link:" + os.readlink(full)
                else:
                    h = hashlib.sha256()
                    with open(full, "rb") as f:
                        for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                            h.update(chunk)
                    out[rel] = h.hexdigest()
            except OSError:
                out[rel] = "unreadable"
    return out


def keep(path: str, root: str, before_sha256: str, fixed: bytes, command: str, diff: str,
         confidence: dict | None, others: dict[str, str] | None = None) -> Path:
    """Keep a verified fix of `path` (validated against bytes hashing to `before_sha256`, beside the project's
    other files as `others` (`tree`) hashes them)."""
    target = Path(path).resolve()
    record = _record(target, command)
    record.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = {"path": str(target), "root": root, "command": command, "before_sha256": before_sha256,
             "after": base64.b64encode(fixed).decode(), "diff": diff, "confidence": confidence,
             "others": others, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f)
    return record


def _read(record: Path) -> dict:
    """A record, or a one-line InputError when it cannot be read (truncated, edited, another version's)."""
    try:
        entry = json.loads(record.read_text(encoding="utf-8"))
        if not isinstance(entry, dict):
            raise ValueError("not an object")
        for key in ("path", "command", "before_sha256", "after", "time"):
            if not isinstance(entry.get(key), str):
                raise ValueError(f"no {key}")
        entry["fixed"] = base64.b64decode(entry["after"], validate=True)
        return entry
    except (OSError, ValueError, UnicodeDecodeError, binascii.Error) as e:
        raise InputError(f"the verified-fix record {record} cannot be read ({e}); delete it and run "
                         "`debugger fix` again") from None


def take(path: str, command: str) -> tuple[SourceFile, bytes, dict]:
    """(the file as it is now, the verified bytes to write, the record), or a one-line InputError saying why
    not. The record is removed once taken: after the write it no longer matches the file anyway."""
    target = Path(path).expanduser()
    if not target.is_file():
        raise InputError(f"{path}: no such file")
    record = _record(target, command)
    if not record.exists():
        for other in sorted(_folder().glob("*.json")) if _folder().is_dir() else []:
            try:
                entry = json.loads(other.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(entry, dict) and entry.get("path") == str(target.resolve()):
                raise InputError(f"{path}: the verified fix was validated with another test command "
                                 f"({entry.get('command')}); run `debugger apply` with --test {entry.get('command')!r}")
        raise InputError(f"{path}: no verified fix to apply; run `debugger fix {path}` first")
    entry = _read(record)
    src = load(str(target), entry.get("root"))
    if src.sha256 != entry["before_sha256"]:
        raise InputError(f"{path}: changed since `debugger fix` verified a fix for it ({entry['time']}); "
                         "not applying a diff validated against other bytes (run `debugger fix` again)")
    before = entry.get("others")
    if not isinstance(before, dict):
        raise InputError(f"{path}: the verified fix does not record the tests it was verified against (an older "
                         "record); run `debugger fix` again")
    now = tree(src.root, src.rel)
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise InputError(f"{path}: the project changed since the fix was verified ({shown}); not applying a fix "
                         "verified against other tests (run `debugger fix` again)")
    return src, entry["fixed"], entry


def forget(path: str, command: str) -> None:
    _record(Path(path).expanduser(), command).unlink(missing_ok=True)
