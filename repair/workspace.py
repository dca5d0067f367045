"""The workspace seam: scratch copies of the project under repair and the test runs in them.

A Workspace holds, once, what every run of a repair shares: the project root, the test command, the
timeouts of the suite and of one test, and the sandbox. Every stage that runs code goes through it (the
baseline and flaky check, the mutation probe, each candidate's validation, the differential check), so
"copy the project, write the file, run the tests, remove the copy" is written here only.
"""
from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from .sandbox import LocalSandbox, make_sandbox, remove_copy, scratch_copy
from .source import SourceFile
from .testrun import TestReport, default_command, idle_plugins, run_tests

# The mutation probe's mutants are one-line edits of code the tests just ran: a test that takes longer than
# this under a mutant is stuck in a loop the mutant made, and is cut off (or at the repair's own per-test
# timeout, if that is shorter).
PROBE_TEST_TIMEOUT = 2.0


@dataclass
class Workspace:
    root: Path
    command: str  # the test command, run from the copy's root
    timeout: float  # one run of the suite
    test_timeout: float  # one test
    sandbox: LocalSandbox

    @classmethod
    def of(cls, root: Path, cfg) -> Workspace:
        """The workspace of a repair of a file under `root` with settings `cfg` (a FixConfig)."""
        return cls(Path(root), cfg.test or default_command(), cfg.timeout, cfg.test_timeout, make_sandbox(cfg.sandbox))

    @property
    def probe_test_timeout(self) -> float:
        return min(PROBE_TEST_TIMEOUT, self.test_timeout)

    @contextlib.contextmanager
    def copy(self, src: SourceFile | None = None, data: bytes | None = None):
        """A fresh scratch copy of the project, `src`'s file in it holding `data` (default: its own bytes) with its
        mode; removed afterwards. The copy's parent is the run's work directory (reports, private TMPDIR)."""
        copy = scratch_copy(self.root)
        try:
            if src is not None:
                path = copy / src.rel
                path.write_bytes(src.raw if data is None else data)
                os.chmod(path, src.mode & 0o7777)
            yield copy
        finally:
            remove_copy(copy)

    @functools.cached_property
    def blocked(self) -> tuple[str, ...]:
        """Installed pytest plugins the project never names, not loaded in its sessions (testrun.idle_plugins)."""
        return idle_plugins(self.root)

    def tests(self, copy: Path, *, test_timeout: float | None = None, plugins: tuple[str, ...] = (),
              **options) -> TestReport:
        """The test command in `copy` (testrun.run_tests' options: target, select, plugins, extra_env...)."""
        return run_tests(copy, self.command, timeout=self.timeout,
                         test_timeout=self.test_timeout if test_timeout is None else test_timeout,
                         sandbox=self.sandbox, plugins=(*plugins, *(f"no:{p}" for p in self.blocked)), **options)

    def run(self, src: SourceFile, data: bytes | None = None, **options) -> TestReport:
        """The tests against `src`'s file holding `data`, in a copy made for this run alone."""
        with self.copy(src, data) as copy:
            return self.tests(copy, **options)

    def command_in(self, copy: Path, cmd: str, env: dict[str, str], timeout: float):
        """Another command (not the tests) in `copy`, fenced like the tests: the differential check's runner."""
        return self.sandbox.run(cmd, copy, env, min(timeout, self.timeout))
