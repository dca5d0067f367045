"""`debugger fix --interactive`, driven through a pseudo-terminal as a person drives it (the fake model)."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import pytest

from conftest import fixed


def drive(args: list[str], cwd, answers: dict[str, list[str]], timeout: float = 240) -> tuple[int, str]:
    """Run `debugger ARGS` on a terminal; each time a question (a key of `answers`) appears, type its next answer."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="dumb", COLUMNS="200", NO_COLOR="1")
    p = subprocess.Popen([sys.executable, "-m", "debugger.cli", *args], cwd=cwd, stdin=slave, stdout=slave,
                         stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen, pending, t0 = "", "", time.monotonic()
    while time.monotonic() - t0 < timeout:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536).decode("utf-8", "replace")
            except OSError:  # the other end closed: the process is done
                break
            if not chunk:
                break
            seen += chunk
            pending += chunk
            for question, replies in answers.items():
                if question in pending:
                    assert replies, f"asked {question!r} more often than expected:\n{seen}"
                    pending = pending.split(question, 1)[1]
                    os.write(master, (replies.pop(0) + "\n").encode())
        elif p.poll() is not None:
            break
    else:
        p.kill()
        raise AssertionError(f"still running after {timeout}s:\n{seen}")
    os.close(master)
    return p.wait(timeout=30), seen


@pytest.mark.integration
def test_pick_a_span_choose_and_apply(project):
    root = project("calc")
    code, seen = drive(["fix", "calc.py", "--interactive", "--model", f"fake:{fixed('calc')}"], root,
                       {"Repair [Enter] all": ["1"], "Keep which?": ["1", "1", "1"], "[a]pply it": ["a"]})
    assert code == 0, seen
    assert "Where the evidence points" in seen and "lines 6" in seen and "Confidence" in seen
    assert "Applied to calc.py" in seen
    assert (root / "calc.py").read_bytes() == fixed("calc").read_bytes()


@pytest.mark.integration
def test_excluding_the_buggy_span_finds_nothing_and_quitting_writes_nothing(project):
    root = project("calc")
    before = (root / "calc.py").read_bytes()
    code, seen = drive(["fix", "calc.py", "-i", "--model", f"fake:{fixed('calc')}", "--formats", "mutant,infill",
                        "--rounds", "0"], root, {"Repair [Enter] all": ["x 1"]})
    assert code == 1 and "No verified fix" in seen, seen
    code, seen = drive(["fix", "calc.py", "-i", "--model", f"fake:{fixed('calc')}"], root,
                       {"Repair [Enter] all": [""], "Keep which?": ["", "", ""], "[a]pply it": ["m", "q"]})
    assert code == 0 and seen.count("passes your tests") == 2, seen  # looked again, then quit
    assert (root / "calc.py").read_bytes() == before
