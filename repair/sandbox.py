"""Run a command against a scratch copy of the project, with a hard timeout on the whole process group.

What this protects: the user's tree (commands only ever run in a fresh copy), the tool itself (a hung
or forking test is killed with its whole session at the timeout; output is capped at head+tail and
decoded with replacement), stale bytecode (PYTHONDONTWRITEBYTECODE, a new directory per candidate),
runaway file sizes and CPU (rlimits). What it does NOT protect yet: the network, the rest of the file
system outside the copy, or memory — candidate code runs with the user's own permissions.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

HEAD = TAIL = 32_000
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox",
             ".nox", "node_modules", ".venv", "venv", ".eggs", "build", "dist"}


@dataclass
class RunResult:
    returncode: int
    timed_out: bool
    output: str  # stdout+stderr, head and tail kept when longer than HEAD+TAIL bytes
    seconds: float
    truncated: bool = False


class Sandbox(Protocol):
    def run(self, cmd: str, cwd: Path, env: dict[str, str], timeout: float) -> RunResult: ...


def _limits(cpu_seconds: int, fsize: int) -> None:
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


class LocalSandbox:
    """A shell in its own session; on timeout every process in that session's group gets SIGKILL."""

    def __init__(self, fsize_bytes: int = 1 << 30):
        self.fsize = fsize_bytes

    def run(self, cmd: str, cwd: Path, env: dict[str, str], timeout: float) -> RunResult:
        t0 = time.monotonic()
        cpu = int(timeout * 2) + 5  # CPU time over 2 cores cannot exceed twice the wall budget
        proc = subprocess.Popen(cmd, shell=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: _limits(cpu, self.fsize))
        head, tail, total = bytearray(), bytearray(), [0]

        def pump() -> None:
            assert proc.stdout is not None
            while chunk := proc.stdout.read1(65536):
                total[0] += len(chunk)
                room = HEAD - len(head)
                if room > 0:
                    head.extend(chunk[:room])
                    chunk = chunk[room:]
                if chunk:
                    tail.extend(chunk)
                    del tail[:-TAIL]

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            kill_group(proc.pid)  # grandchildren that outlive the shell go too
            proc.wait()
        reader.join(timeout=5)
        truncated = total[0] > len(head) + len(tail)
        text = head.decode("utf-8", "replace")
        if tail:
            text += ("\n[... output truncated ...]\n" if truncated else "") + tail.decode("utf-8", "replace")
        return RunResult(proc.returncode if not timed_out else -9, timed_out, text, time.monotonic() - t0, truncated)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


SANDBOXES: dict[str, type] = {"local": LocalSandbox}


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")}
    # any virtualenv, whatever it is called
    skip |= {n for n in names if os.path.isfile(os.path.join(directory, n, "pyvenv.cfg"))}
    return skip


def scratch_copy(root: Path, base: Path | None = None) -> Path:
    """A fresh copy of the project root; symlinks stay links so nothing outside gets copied in."""
    dest = Path(tempfile.mkdtemp(prefix="debugger-", dir=base)) / root.name
    shutil.copytree(root, dest, symlinks=True, ignore=_ignore)
    return dest


def remove_copy(copy: Path) -> None:
    shutil.rmtree(copy.parent, ignore_errors=True)
