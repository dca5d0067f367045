"""Run the project's tests in a sandbox and read what happened, test by test.

Outcomes and failure text come from pytest's junit XML; the bundled probe plugin adds what junit
cannot carry: the traceback frames, the lines of the target file each test executed, and which test
hung. A command that is not pytest still works: its exit code and output become one pseudo-test.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .sandbox import Sandbox, make_sandbox

PROBE_DIR = Path(__file__).parent / "_probe"
MAX_MESSAGE = 6000
_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+)(?:, in | in )?(\S*)')


@dataclass
class Frame:
    file: str  # path relative to the project root when inside it
    line: int
    name: str


@dataclass
class TestCase:
    nodeid: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""  # the runner's whole report of the failure (JUnit: the message, then the traceback)
    frames: list[Frame] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # lines of the target file this test executed
    files: dict[str, list[int]] = field(default_factory=dict)  # with target_dir: relative path -> lines
    arcs: list[tuple[int, int]] = field(default_factory=list)  # (line, next line) in the target; 0 in, -1 out
    recent: list[int] = field(default_factory=list)  # a failing test's last target lines, by last run, oldest first
    summary: str = ""  # the error as the runner states it (JUnit's message attribute): the head of `message`


@dataclass
class TestReport:
    command: str
    returncode: int
    timed_out: bool
    seconds: float
    output: str
    tests: dict[str, TestCase]
    hung: str | None = None

    @property
    def failing(self) -> list[str]:
        return [k for k, t in self.tests.items() if t.outcome in ("failed", "error")]

    @property
    def passing(self) -> list[str]:
        return [k for k, t in self.tests.items() if t.outcome == "passed"]

    @property
    def ok(self) -> bool:
        return not self.failing and not self.timed_out and self.returncode in (0, 5) and bool(self.tests)


def default_command() -> str:
    venv = os.environ.get("VIRTUAL_ENV")
    python = Path(venv) / "bin" / "python" if venv and (Path(venv) / "bin" / "python").exists() else sys.executable
    return f"{shlex.quote(str(python))} -m pytest"


# pytest plugins that other packages install and that cost every session time without changing what a project
# that never names them tests: hypothesis's imports all of hypothesis at each session's end (~0.5 s)
IDLE_PLUGINS = {"hypothesispytest": b"hypothesis"}


def idle_plugins(root: Path, limit: int = 20000) -> tuple[str, ...]:
    """The IDLE_PLUGINS that no Python file or test configuration of the project at `root` names (the first
    `limit` files read; none blocked when the project is larger): blocked in the sessions a repair runs."""
    left = dict(IDLE_PLUGINS)
    seen = 0
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".") and x not in ("node_modules", "__pycache__")
                   and not (Path(d) / x / "pyvenv.cfg").exists()]
        for f in files:
            if not (f.endswith(".py") or f in ("pyproject.toml", "setup.cfg", "tox.ini", "pytest.ini")):
                continue
            seen += 1
            if seen > limit:
                return ()
            try:
                data = (Path(d) / f).read_bytes()
            except OSError:
                continue
            left = {k: word for k, word in left.items() if word not in data}
            if not left:
                return ()
    return tuple(left)


def run_tests(copy: Path, command: str, *, target: str | None = None, select: list[str] | None = None,
              first: list[str] | None = None, exitfirst: bool = False, timeout: float = 120.0, test_timeout: float = 30.0,
              sandbox: Sandbox | None = None, coverage_dir: bool = False,
              extra_env: dict[str, str] | None = None, plugins: tuple[str, ...] = ()) -> TestReport:
    """Run `command` in the scratch copy `copy`; `target` (relative path) turns on line recording for
    that file, `coverage_dir` for every file of the copy; `plugins`: more of repair/_probe's to load, or
    "no:NAME" for an installed one not to load (`idle_plugins`); `first`: tests run before the others, the rest
    skipped if one of them fails (without `select`)."""
    work = copy.parent
    xml, probe = work / "junit.xml", work / "probe.jsonl"
    for p in (xml, probe, Path(str(probe) + ".hang")):
        p.unlink(missing_ok=True)
    env = dict(os.environ)
    addopts = [env.get("PYTEST_ADDOPTS", ""), "-p debugger_probe -p no:cacheprovider", *(f"-p {p}" for p in plugins),
               f"--junitxml={shlex.quote(str(xml))} -o junit_family=xunit1"]
    env.update({
        "PYTEST_ADDOPTS": " ".join(a for a in addopts if a),
        "PYTHONPATH": os.pathsep.join(p for p in [str(PROBE_DIR), env.get("PYTHONPATH", "")] if p),
        "PYTHONDONTWRITEBYTECODE": "1",
        # one hash seed for every run: tests parametrized from a set get the same node ids in the
        # recording run, the flaky check, the probe and each candidate's validation
        "PYTHONHASHSEED": env.get("PYTHONHASHSEED") or "0",
        "DEBUGGER_PROBE_OUT": str(probe),
        "DEBUGGER_TEST_TIMEOUT": str(test_timeout),
        "DEBUGGER_EXITFIRST": "1" if exitfirst else "",
        "DEBUGGER_TARGET": str((copy / target).resolve()) if target else "",
        "DEBUGGER_SELECT": "",
        "DEBUGGER_FIRST": "",
        "DEBUGGER_TARGET_DIR": str(copy.resolve()) + os.sep if coverage_dir else "",
    } | (extra_env or {}))
    if select:
        sel = work / "select.txt"
        sel.write_text("\n".join(select) + "\n")
        env["DEBUGGER_SELECT"] = str(sel)
    elif first:
        (work / "first.txt").write_text("\n".join(first) + "\n")
        env["DEBUGGER_FIRST"] = str(work / "first.txt")
    result = (sandbox or make_sandbox()).run(command, copy, env, timeout)
    tests = _read_probe(probe, copy)
    _merge_junit(xml, tests, copy)
    hung = _read_hang(Path(str(probe) + ".hang"), tests, copy, test_timeout)
    if result.timed_out and hung is None:
        hung = "<suite>"
        tests.setdefault(hung, TestCase(hung, "error", f"the test run timed out after {timeout:.0f}s"))
    if not tests and result.returncode not in (0, 5):
        # Not pytest, or it died before collecting: the command as a whole is the failing test.
        tests["<command>"] = TestCase("<command>", "error", result.output[-MAX_MESSAGE:],
                                      _frames_from_text(result.output, copy))
    return TestReport(command, result.returncode, result.timed_out, result.seconds, result.output, tests, hung)


def _rel(path: str, copy: Path) -> str:
    try:
        return Path(path).resolve().relative_to(copy.resolve()).as_posix()
    except (ValueError, OSError):
        return path


def _read_probe(path: Path, copy: Path) -> dict[str, TestCase]:
    tests: dict[str, TestCase] = {}
    if not path.exists():
        return tests
    for ln in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            r = json.loads(ln)
        except json.JSONDecodeError:
            continue
        frames = [Frame(_rel(f["file"], copy), f["line"], f["name"]) for f in r.get("frames", [])]
        files = {_rel(f, copy): ln for f, ln in r.get("files", {}).items()}
        tests[r["nodeid"]] = TestCase(r["nodeid"], r["outcome"], r.get("message", ""), frames, r.get("lines", []),
                                      files, [tuple(a) for a in r.get("arcs", [])], r.get("recent", []))
    return tests


def _nodeid_key(nodeid: str) -> tuple[str, str]:
    parts = nodeid.split("::")
    mod = parts[0][:-3] if parts[0].endswith(".py") else parts[0]
    return ".".join([mod.replace("/", "."), *parts[1:-1]]), parts[-1]


def _merge_junit(xml: Path, tests: dict[str, TestCase], copy: Path) -> None:
    if not xml.exists():
        return
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError:
        return
    by_key = {_nodeid_key(k): t for k, t in tests.items()}
    for case in root.iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        summary = "" if bad is None else (bad.get("message") or "").strip()
        text = "" if bad is None else (summary + "\n" + (bad.text or "")).strip()
        t = by_key.get(key)
        if t is None:
            if bad is None:
                continue
            # Collection errors have no probe record: the module that failed to import is the test.
            nodeid = case.get("file") or (key[0].replace(".", "/") + ".py" if key[0] else key[1].replace(".", "/") + ".py")
            tests[nodeid] = TestCase(nodeid, "error", text[-MAX_MESSAGE:], _frames_from_text(text, copy),
                                     summary=summary[:MAX_MESSAGE])
        elif bad is not None and text:
            t.message, t.summary = text[-MAX_MESSAGE:], summary[:MAX_MESSAGE]
            if t.outcome == "passed":  # teardown errors are reported on a passed call
                t.outcome = "error"


def _read_hang(path: Path, tests: dict[str, TestCase], copy: Path, test_timeout: float) -> str | None:
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    if not lines or not lines[0].startswith("TEST ") or len(lines) < 2:
        return None
    nodeid = lines[0][5:].strip()
    # faulthandler lists the innermost call first; Frame order elsewhere is outermost first.
    frames = list(reversed(_frames_from_text(text, copy)))
    msg = f"timed out after {test_timeout:.0f}s (killed); stack at the time:\n" + "\n".join(lines[1:40])
    prev = tests.get(nodeid)
    tests[nodeid] = TestCase(nodeid, "failed", msg[:MAX_MESSAGE], frames, prev.lines if prev else [], {},
                             prev.arcs if prev else [], prev.recent if prev else [])
    return nodeid


def _frames_from_text(text: str, copy: Path) -> list[Frame]:
    frames = [Frame(_rel(m.group(1), copy), int(m.group(2)), m.group(3)) for m in _FRAME_RE.finditer(text)]
    # pytest's own style: "path/to/file.py:12: in name" / "path/to/file.py:12: Error"
    for m in re.finditer(r"^([\w./\\-]+\.py):(\d+):", text, re.M):
        frames.append(Frame(_rel(str(copy / m.group(1)), copy), int(m.group(2)), ""))
    return frames
