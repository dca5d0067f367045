"""Run a command against a scratch copy of the project, fenced in, with a hard timeout on the whole group.

What this protects, always: the user's tree (commands only ever run in a fresh copy); the tool itself (a
hung or forking test is killed with its whole session at the timeout, or as soon as it holds more than
`Limits.processes` processes; output is capped at head+tail and decoded with replacement); stale bytecode
(PYTHONDONTWRITEBYTECODE, a new directory per candidate); memory, file size and CPU (rlimits per process);
the disk (the run is killed once free space has dropped by `Limits.disk_bytes`).

With bubblewrap installed (Debian: `bubblewrap`), also: no network (own network namespace), a private PID
namespace (a grandchild that double-forks out of the session still dies with the run), and a file system
that shows only what a test needs (`view`): the system directories (/usr, /bin, /lib*, /etc, /sys), the
Python environments the command runs (this tool's interpreter, every virtualenv or Python prefix whose
executable the command names, their site-packages and the folders their .pth files and editable installs
point to), all read-only, and the run's own work directory (the scratch copy and a private TMPDIR), the
only thing writable. Home directories, /tmp, other projects and the user's files are not there at all.
Without bubblewrap, `unshare --net` (user namespaces) still takes the network away. `isolation()` says
which one this machine got; `debugger fix --json` reports it.

What it does NOT protect: memory is capped per process, not per run (a run may hold processes x memory);
without bubblewrap, the rest of the file system is readable and writable with the user's own permissions
and a process that leaves the session survives the run. With it, what the visible Python environments
hold (their installed packages, and the sources their editable installs point to) can be read.
"""
from __future__ import annotations

import contextlib
import functools
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


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 8 << 30  # address space per process
    processes: int = 200  # in the run's session at any moment
    file_bytes: int = 1 << 30  # largest file a process may write
    disk_bytes: int = 2 << 30  # drop in free disk space that ends the run


@dataclass
class RunResult:
    returncode: int
    timed_out: bool
    output: str  # stdout+stderr, head and tail kept when longer than HEAD+TAIL bytes
    seconds: float
    truncated: bool = False
    killed: str | None = None  # "timeout", "processes" or "disk" when the sandbox ended the run
    isolation: str = "none"


class Sandbox(Protocol):
    def run(self, cmd: str, cwd: Path, env: dict[str, str], timeout: float) -> RunResult: ...


def _user_processes() -> int:
    uid, n = os.getuid(), 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                n += os.stat(f"/proc/{d}").st_uid == uid
            except OSError:
                pass
    return n


def _limits(cpu_seconds: int, lim: Limits, nproc: int | None) -> None:
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_bytes, lim.file_bytes))
    resource.setrlimit(resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes))
    if nproc is not None:  # the kernel ignores it for root; the watchdog covers that case
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def session_members(sid: int) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if len(fields) > 3 and int(fields[3]) == sid:  # field 6 of stat: session id
                pids.append(int(d))
    return pids


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class LocalSandbox:
    """A shell in its own session with rlimits; on timeout every process in the session gets SIGKILL."""

    isolation = "none"

    def __init__(self, limits: Limits | None = None, fsize_bytes: int | None = None):
        self.limits = limits or Limits()
        if fsize_bytes is not None:
            self.limits = Limits(**{**self.limits.__dict__, "file_bytes": fsize_bytes})

    def wrap(self, cmd: str, cwd: Path, env: dict[str, str]) -> list[str]:
        return ["/bin/sh", "-c", cmd]

    def run(self, cmd: str, cwd: Path, env: dict[str, str], timeout: float) -> RunResult:
        t0 = time.monotonic()
        lim = self.limits
        cpu = int(timeout * 2) + 5  # CPU time over 2 cores cannot exceed twice the wall budget
        nproc = None if os.getuid() == 0 else _user_processes() + lim.processes
        disk_floor = _free(cwd) - lim.disk_bytes
        proc = subprocess.Popen(self.wrap(cmd, cwd, env), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: _limits(cpu, lim, nproc))
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
        killed = None
        try:
            while killed is None:
                try:
                    proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - t0 > timeout:
                    killed = "timeout"
                elif len(session_members(proc.pid)) > lim.processes:
                    killed = "processes"
                elif _free(cwd) < disk_floor:
                    killed = "disk"
                elif (stop := getattr(_cancel, "event", None)) is not None and stop.is_set():
                    killed = "cancelled"
        finally:
            kill_group(proc.pid)  # grandchildren that outlive the shell go too
            proc.wait()
        reader.join(timeout=5)
        truncated = total[0] > len(head) + len(tail)
        text = head.decode("utf-8", "replace")
        if tail:
            text += ("\n[... output truncated ...]\n" if truncated else "") + tail.decode("utf-8", "replace")
        if killed and killed != "timeout":
            text += f"\n[debugger sandbox: killed, {_REASONS[killed].format(lim=lim)}]\n"
        return RunResult(-9 if killed else proc.returncode, killed == "timeout", text, time.monotonic() - t0,
                         truncated, killed, self.isolation)


_REASONS = {"processes": "more than {lim.processes} processes", "disk": "it wrote more than {lim.disk_bytes} bytes",
            "cancelled": "the job was cancelled"}
_cancel = threading.local()


@contextlib.contextmanager
def cancellable(event: threading.Event):
    """Runs started in this thread inside the block are killed, their whole process group, once `event` is set
    (`debugger serve` cancelling a job)."""
    _cancel.event = event
    try:
        yield
    finally:
        _cancel.event = None


class BwrapSandbox(LocalSandbox):
    """bubblewrap: no network, own PIDs, and a file system of only what a test needs (see `view`), read-only
    but for the work dir, which holds the copy and a private TMPDIR."""

    isolation = "bwrap"

    def wrap(self, cmd: str, cwd: Path, env: dict[str, str]) -> list[str]:
        work = str(cwd.parent)  # the scratch dir: the copy, plus the run's reports beside it
        tmp = cwd.parent / "tmp"
        tmp.mkdir(exist_ok=True)
        shown = view(cmd, env.get("PATH", os.defpath))
        system = [a for p in shown if p in SYSTEM for a in (("--symlink", os.readlink(p), p) if os.path.islink(p)
                                                           else ("--ro-bind", p, p))]
        # /tmp is a private tmpfs; what lives under it (an environment, the work dir) is bound into it afterwards
        return ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc",
                *system, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                *[a for p in shown if p not in SYSTEM for a in ("--ro-bind", p, p)],
                "--bind", work, work, "--chdir", str(cwd), "--setenv", "TMPDIR", str(tmp),
                "--", "/bin/sh", "-c", cmd]


SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
PROBE_DIR = Path(__file__).parent / "_probe"  # the pytest plugins every run loads


def view(cmd: str, path_var: str) -> list[str]:
    """What a sandboxed run of `cmd` sees, read-only, parents before children: the system directories, the
    debugger's own interpreter and plugins, and the Python environment of every executable the command
    names (the first word of each of its simple commands, found on PATH when it is a bare name). Nothing
    else: not the home directories, not /tmp, not other projects."""
    seen = [p for p in SYSTEM if os.path.lexists(p)]
    paths = set(_own_environment()) | {str(PROBE_DIR)}
    for exe in _executables(cmd, path_var):
        paths |= _environment(exe)
    paths |= {os.path.realpath(p) for p in paths if p}  # a symlinked folder is shown where it leads, too
    system = tuple(p.rstrip("/") + "/" for p in SYSTEM)
    never = {"/", "/tmp", "/home", "/root", os.path.normpath(os.path.expanduser("~"))}  # whole, they show everything
    paths = {os.path.normpath(p) for p in paths if p and os.path.isabs(p)}
    extra = sorted({p for p in paths if p not in never and os.path.exists(p) and not (p + "/").startswith(system)})
    kept: list[str] = []
    for p in extra:  # a folder already shown shows its children
        if not any((p + "/").startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(p)
    return seen + kept


@functools.lru_cache(maxsize=1)
def _own_environment() -> tuple[str, ...]:
    """This interpreter: its prefixes, every existing sys.path entry and what its site-packages point to."""
    import sys
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths |= _environment(Path(sys.executable))
    here = os.getcwd()
    for entry in sys.path:  # but the folder `python -m` was started in (it may hold every project there is)
        if entry and os.path.exists(entry) and os.path.abspath(entry) != here:
            paths.add(os.path.abspath(entry))
            if entry.rstrip("/").endswith(("site-packages", "dist-packages")):
                paths |= _site_links(Path(entry))
    return tuple(sorted(paths))


def _executables(cmd: str, path_var: str) -> list[Path]:
    """The first word of each simple command in `cmd` (after VAR=value assignments), as existing files."""
    import shlex
    try:
        lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        words = list(lex)
    except ValueError:
        return []
    out, first = [], True
    for w in words:
        if w and set(w) <= set(";&|()<>"):
            first = True
            continue
        if not first or (("=" in w) and not w.startswith(("/", "."))):
            continue
        first = False
        if "/" in w:
            p = Path(w).expanduser()
            if p.is_absolute() and p.is_file():
                out.append(p)
        elif (found := shutil.which(w, path=path_var)):
            out.append(Path(found))
    return out


@functools.lru_cache(maxsize=256)
def _environment(exe: Path) -> frozenset[str]:
    """The Python environment `exe` belongs to, as paths to show: its virtualenv (and the interpreter that
    made it), or the Python prefix it lives in (bin/ and lib/ of e.g. ~/.pyenv/versions/X), or for a pyenv
    shim the pyenv root; a script's interpreter line is followed."""
    out: set[str] = set()
    real = exe.resolve()
    for bin_dir in dict.fromkeys((exe.parent, real.parent)):
        prefix = bin_dir.parent
        cfg = prefix / "pyvenv.cfg"
        if cfg.is_file():
            out.add(str(prefix))
            for line in cfg.read_text(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home" and value.strip():
                    out |= _prefix(Path(value.strip()).parent)
            for site in prefix.glob("lib*/python*/site-packages"):
                out |= _site_links(site)
        else:
            out |= _prefix(prefix)
    for d in [*exe.parents][:4]:  # a version manager's shim (pyenv): its whole root, which the shim runs
        if (d / "libexec" / "pyenv").is_file():
            out.add(str(d))
            break
    try:
        with open(real, "rb") as f:
            head = f.read(256)
    except OSError:
        head = b""
    if head.startswith(b"#!"):  # a console script: its interpreter's environment
        words = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
        if words and words[0] != str(exe) and Path(words[0]).is_absolute() and Path(words[0]).is_file():
            out |= _environment(Path(words[0]))
    return frozenset(out)


def _prefix(prefix: Path) -> set[str]:
    """bin/ and lib/ of a Python installation (lib holds its stdlib and, for some, libpython); nothing for a
    folder that holds no Python."""
    libs = [d for d in ("lib", "lib64") if any((prefix / d).glob("python3*"))]
    if not libs:
        return set()
    return {str(prefix / "bin"), *(str(prefix / d) for d in libs)}


def _site_links(site: Path) -> set[str]:
    """The folders a site-packages' .pth files add to sys.path, and those its editable installs map to."""
    import ast
    import re
    out: set[str] = set()
    for pth in site.glob("*.pth"):
        for line in pth.read_text(errors="replace").splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "import ", "import\t")):
                p = (site / line).resolve()
                if p.is_dir():
                    out.add(str(p))
    for finder in site.glob("__editable__*finder.py"):
        m = re.search(r"^MAPPING\b[^=]*=\s*(\{.*?\})\s*$", finder.read_text(errors="replace"), re.M | re.S)
        try:
            mapping = ast.literal_eval(m.group(1)) if m else {}
        except (ValueError, SyntaxError):
            mapping = {}
        for target in mapping.values() if isinstance(mapping, dict) else ():
            if isinstance(target, str) and os.path.exists(target):
                out.add(os.path.dirname(target) if os.path.isfile(target) else target)
    return out


class UnshareSandbox(LocalSandbox):
    """util-linux unshare in a user namespace: takes the network away, nothing more."""

    isolation = "unshare"

    def wrap(self, cmd: str, cwd: Path, env: dict[str, str]) -> list[str]:
        return ["unshare", "--net", "--map-root-user", "/bin/sh", "-c", cmd]


SANDBOXES: dict[str, type] = {"local": LocalSandbox, "bwrap": BwrapSandbox, "unshare": UnshareSandbox}


_PROBES = {"bwrap": ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"],
           "unshare": ["unshare", "--net", "--map-root-user", "true"]}


@functools.lru_cache(maxsize=None)
def works(name: str) -> bool:
    """Probed, not assumed: a tool can be installed yet refused (no user namespaces, seccomp)."""
    probe = _PROBES.get(name)
    if probe is None:
        return name == "local"
    try:
        return bool(shutil.which(probe[0])) and subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def isolation() -> str:
    """The strongest sandbox that works on this machine."""
    return next(n for n in ("bwrap", "unshare", "local") if works(n))


def make_sandbox(name: str = "auto", limits: Limits | None = None) -> LocalSandbox:
    """'auto' picks the strongest available; naming one that does not work here is an error."""
    from .source import InputError
    chosen = isolation() if name == "auto" else name
    if chosen not in SANDBOXES:
        raise InputError(f"unknown sandbox {name!r}: use auto, {', '.join(SANDBOXES)}")
    if not works(chosen):
        raise InputError(f"sandbox {name!r} does not work on this machine (install bubblewrap, or use auto)")
    return SANDBOXES[chosen](limits)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
