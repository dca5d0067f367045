"""Shared fixtures: tiny projects copied into tmp_path, and a runner for the CLI as a user runs it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
collect_ignore = ["fixtures"]  # tiny buggy projects: their tests are meant to fail
REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items):
    """The tiers: `pytest` runs everything (CI does); `pytest -m "not integration"` is the everyday tier, under three
    minutes on 2 cores: whole repairs, servers, training and eval runs are `integration`, and so is every `slow` one."""
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory, monkeypatch):
    """The developer's own ~/.config/debugger/config.toml must not change what a test sees."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture
def project(tmp_path):
    """project("calc") -> a fresh copy of tests/fixtures/calc in tmp_path."""
    def make(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest)
        return dest
    return make


def fixed(name: str) -> Path:
    return FIXTURES / f"{name}_fixed.py"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None):
    """Run `debugger ARGS` in a subprocess; returns (exit code, stdout, stderr, parsed JSON or None)."""
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.run([sys.executable, "-m", "debugger.cli", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env=full_env)
    data = None
    if "--json" in args and p.stdout.strip():
        data = json.loads(p.stdout)
    return p.returncode, p.stdout, p.stderr, data


@pytest.fixture
def cli():
    return run_cli


def workspace(root: Path, command: str | None = None, timeout: float = 120, test_timeout: float = 10):
    """A Workspace for the stages tests call directly (the probe, the differential check): the default
    test command, the strongest sandbox here."""
    from debugger.sandbox import make_sandbox
    from debugger.testrun import default_command
    from debugger.workspace import Workspace
    return Workspace(Path(root), command or default_command(), timeout, test_timeout, make_sandbox())
