"""The patch screen: a candidate is read before it is run, and rejected if it games the tests or reaches out.

Only what the candidate adds counts: a call to `eval` that the original span already made is not new.
Rejected, never executed: edits outside the span the prompt offered; new imports of process, network,
FFI or serialization modules; `eval`/`exec`/`compile`/`__import__`; `sys.exit`/`os._exit`/`exit`/`quit`
or raising SystemExit; pytest skip/xfail/exit and unittest skips; an `__eq__` that returns a constant;
bidi-control and zero-width characters; imports that resolve neither in the project nor in this
environment (fabricated dependencies); code made never to run (suspicion.unreachable: an empty range, a
constant condition), which passes a test that expected nothing to happen. It reads names, not meaning: an alias (`import os as o;
o.system(...)`) or `getattr` gets past it, which is why candidates still run only in the sandbox.
"""
from __future__ import annotations

import ast
import importlib.util
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

RISKY_MODULES = {"subprocess", "socket", "ctypes", "cffi", "pickle", "cPickle", "dill", "marshal", "shelve",
                 "multiprocessing", "urllib", "http", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
                 "telnetlib", "paramiko", "pty", "webbrowser", "importlib", "runpy", "code", "signal", "_thread"}
RISKY_CALLS = {"eval", "exec", "compile", "__import__", "exit", "quit", "breakpoint", "globals",
               "sys.exit", "os._exit", "os.system", "os.popen", "os.fork", "os.kill", "os.killpg", "os.abort",
               "os.execv", "os.execl", "os.execvp", "os.execve", "os.spawnv", "os.spawnl", "os.posix_spawn",
               "os.remove", "os.unlink", "os.rmdir", "shutil.rmtree", "os.chdir", "setattr", "delattr"}
GAMING = {"pytest.skip", "pytest.xfail", "pytest.exit", "pytest.importorskip", "pytest.mark.skip",
          "pytest.mark.skipif", "pytest.mark.xfail", "unittest.skip", "unittest.skipIf", "unittest.skipUnless",
          "unittest.expectedFailure", "self.skipTest", "SkipTest"}
INVISIBLE = {*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)), "\u200b", "\u200c", "\u200d",
             "\u200e", "\u200f", "\u2060", "\ufeff", "\u061c"}


@dataclass
class Screen:
    ok: bool
    reasons: list[str] = field(default_factory=list)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _in(node: ast.AST, lo: int, hi: int) -> bool:
    ln = getattr(node, "lineno", None)
    return ln is not None and lo <= ln <= hi


def _features(tree: ast.AST, lo: int, hi: int) -> tuple[Counter, list[tuple[str, int]]]:
    """Risky things on lines lo..hi of the tree, and the imports there as (module, level)."""
    found: Counter = Counter()
    imports: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not _in(node, lo, hi):
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                imports.append((a.name, 0))
                if a.name.split(".")[0] in RISKY_MODULES:
                    found[f"imports {a.name}"] += 1
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            imports.append((mod, node.level))
            if node.level == 0 and mod.split(".")[0] in RISKY_MODULES:
                found[f"imports from {mod}"] += 1
            if node.level == 0 and mod == "os":
                for a in node.names:
                    if f"os.{a.name}" in RISKY_CALLS:
                        found[f"imports os.{a.name}"] += 1
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in RISKY_CALLS:
                found[f"calls {name}"] += 1
            if name in GAMING or name.endswith(".skipTest"):
                found[f"skips tests via {name}"] += 1
        elif isinstance(node, ast.Raise) and node.exc is not None and _dotted(node.exc) in ("SystemExit",
                                                                                           "KeyboardInterrupt"):
            found[f"raises {_dotted(node.exc)}"] += 1
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                if _dotted(d) in GAMING:
                    found[f"skips tests via {_dotted(d)}"] += 1
    for node in ast.walk(tree):  # a comparison made constant: the edit may be anywhere inside it
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= hi and \
                (node.end_lineno or node.lineno) >= lo and node.name in ("__eq__", "__ne__", "__contains__") \
                and _constant_body(node):
            found[f"{node.name} returns a constant"] += 1
    return found, imports


def _constant_body(fn: ast.FunctionDef) -> bool:
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    return bool(returns) and all(isinstance(r.value, ast.Constant) and isinstance(r.value.value, bool)
                                 for r in returns)


def _resolves(module: str, level: int, path: Path, root: Path) -> bool:
    if level:  # relative: the package directory, `level` steps up from the file
        base = path.parent
        for _ in range(level - 1):
            base = base.parent
        target = base.joinpath(*module.split(".")) if module else base
        return target.with_suffix(".py").exists() or target.is_dir()
    top = module.split(".")[0]
    for d in (root, root / "src", path.parent):
        if (d / f"{top}.py").exists() or (d / top).is_dir():
            return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def screen(original: str, new: str, start_line: int, end_line: int, new_lines: int, *,
           span: tuple[int, int] | None = None, path: Path | None = None, root: Path | None = None) -> Screen:
    """`original` lines start_line..end_line became `new_lines` lines of `new`, starting at start_line;
    `span` is the part of the original the prompt offered for editing."""
    reasons = []
    if span is not None and (start_line < span[0] or end_line > span[1]):
        reasons.append(f"edits lines {start_line}-{end_line}, outside the offered span {span[0]}-{span[1]}")
    added = "".join(new.splitlines(keepends=True)[start_line - 1:start_line - 1 + new_lines])
    bad = sorted({f"U+{ord(c):04X}" for c in added if c in INVISIBLE})
    if bad:
        reasons.append(f"adds invisible or bidi-control characters ({', '.join(bad)})")
    try:
        new_tree = ast.parse(new)
    except (SyntaxError, ValueError):
        return Screen(not reasons, reasons)  # the tests will say it does not parse; nothing to run
    try:
        old_found, old_imports = _features(ast.parse(original), start_line, end_line)
    except (SyntaxError, ValueError):
        old_found, old_imports = Counter(), []
    new_found, new_imports = _features(new_tree, start_line, start_line + new_lines - 1)
    reasons += sorted((new_found - old_found).keys())
    from .suspicion import unreachable
    reasons += unreachable(original, new, start_line, end_line, new_lines)
    if path is not None and root is not None:
        for module, level in sorted(set(new_imports) - set(old_imports)):
            if not _resolves(module, level, path, root):
                reasons.append(f"imports {'.' * level}{module}, which resolves nowhere (a fabricated dependency?)")
    return Screen(not reasons, reasons)
