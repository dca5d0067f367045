"""The target file as bytes on disk and as text for the pipeline, and the byte-exact edit between them.

Everything upstream (tree-sitter, prompts, the model) sees LF text. An edit is a range of 1-based lines
replaced by new LF text; `apply` maps it back onto the original bytes so that every byte outside the
range (BOM, encoding, CRLF or mixed newlines, a missing final newline) is kept exactly.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import os
import tokenize
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
MAX_BYTES = 4 << 20  # larger .py files are generated code, and would swamp the model and the parser


@dataclass(frozen=True)
class Edit:
    start_line: int  # 1-based, inclusive
    end_line: int  # inclusive; end_line == start_line - 1 inserts before start_line
    text: str  # replacement, LF newlines, ends with "\n" unless empty


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    root: Path  # project root (absolute)
    raw: bytes
    encoding: str
    bom: bool
    text: str  # decoded, newlines normalised to LF
    mode: int

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.root).as_posix()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines(keepends=True)

    def apply(self, edit: Edit) -> bytes:
        return apply_edit(self, edit)


def find_root(path: Path) -> Path:
    """Nearest directory upwards holding a project marker. None found: no guess (the current directory
    could be a home folder, copied whole into the sandbox and its unrelated tests run)."""
    for d in [path.parent, *path.parent.parents]:
        if any((d / m).exists() for m in ROOT_MARKERS):
            return d
    raise InputError(f"{path}: not inside a project (no {', '.join(ROOT_MARKERS)} in any folder above it); "
                     "name the project root with --root DIR")


def load(path: str | os.PathLike, root: str | os.PathLike | None = None) -> SourceFile:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory; give a Python file")
    lexical = Path(os.path.abspath(p))  # where the user pointed, symlinks unresolved: that decides the project
    p = p.resolve()
    if p.suffix not in (".py", ".pyw"):
        raise InputError(f"{path}: not a Python file (expected a .py file)")
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise InputError(f"{path}: too large to repair ({size / 2**20:.1f} MB; the limit is {MAX_BYTES >> 20} MB)")
    raw = p.read_bytes()
    if not raw.strip():
        raise InputError(f"{path}: file is empty")
    if b"\x00" in raw:
        raise InputError(f"{path}: looks binary (contains NUL bytes)")
    bom = raw.startswith(codecs.BOM_UTF8)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw[3 if bom else 0:].decode("utf-8" if encoding == "utf-8-sig" else encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot decode ({e.__class__.__name__}: {e})") from None
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    r = Path(root).expanduser().resolve() if root else find_root(lexical).resolve()
    if not r.is_dir():
        raise InputError(f"{root}: project root is not a directory")
    if not p.is_relative_to(r):
        if lexical != p and lexical.parent.resolve().is_relative_to(r):
            raise InputError(f"{path}: is a symlink leading outside the project ({p}); not touching it")
        raise InputError(f"{path}: not inside the project root {r}")
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    return SourceFile(path=p, root=r, raw=raw, encoding=encoding, bom=bom, text=lf, mode=p.stat().st_mode)


def _raw_lines(src: SourceFile) -> list[bytes]:
    body = src.raw[3:] if src.bom else src.raw
    return body.splitlines(keepends=True)


def _newline_of(lines: list[bytes], default: bytes) -> bytes:
    for ln in lines:
        for nl in (b"\r\n", b"\n", b"\r"):
            if ln.endswith(nl):
                return nl
    return default


def apply_edit(src: SourceFile, edit: Edit) -> bytes:
    lines = _raw_lines(src)
    s, e = edit.start_line - 1, edit.end_line  # slice [s, e) of original lines is replaced
    if not (0 <= s <= len(lines) and s <= e <= len(lines)):
        raise ValueError(f"edit lines {edit.start_line}-{edit.end_line} outside file of {len(lines)} lines")
    old = lines[s:e]
    nl = _newline_of(old or lines[max(0, s - 1):s] or lines, b"\n")
    new_text = edit.text
    last_had_nl = bool(old) and old[-1].endswith((b"\n", b"\r"))
    if e == len(lines) and old and not last_had_nl and new_text.endswith("\n"):
        new_text = new_text[:-1]  # file had no trailing newline: keep it that way
    new = new_text.replace("\n", nl.decode()).encode(src.encoding)
    if s == len(lines) and lines and not lines[-1].endswith((b"\n", b"\r")) and new:
        new = nl + new  # appending after a last line that had no newline
    out = b"".join(lines[:s]) + new + b"".join(lines[e:])
    return (codecs.BOM_UTF8 if src.bom else b"") + out


def edited_text(text: str, edit: Edit) -> str:
    """The LF text after the edit; `apply_edit` is its byte-exact twin for the file on disk."""
    lines = text.splitlines(keepends=True)
    new = edit.text if (not edit.text or edit.text.endswith("\n")) else edit.text + "\n"
    return "".join(lines[:edit.start_line - 1]) + new + "".join(lines[edit.end_line:])
