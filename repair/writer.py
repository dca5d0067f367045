"""Write a verified fix into the user's file: atomically, with its mode, only if nobody changed it."""
from __future__ import annotations

import hashlib
import os
import tempfile

from .source import InputError, SourceFile


def apply(src: SourceFile, data: bytes) -> None:
    """Replace src.path with `data` via a same-directory temp file and os.replace (atomic on POSIX)."""
    if src.path.is_symlink() and not src.path.resolve().is_relative_to(src.root):
        raise InputError(f"{src.path}: symlink leads outside the project; not writing through it")
    target = src.path.resolve()
    current = target.read_bytes()
    if hashlib.sha256(current).hexdigest() != src.sha256:
        raise InputError(f"{src.path}: changed on disk since it was read; not applied (run again)")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".debugger-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, src.mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
