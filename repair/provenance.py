"""What produced an artifact: git SHA, library versions, machine. Saved beside runs and adapters."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def provenance() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "git_sha": git("rev-parse", "HEAD") or None,
        "git_dirty": bool(git("status", "--porcelain")),
        "versions": {k: _version(k) for k in ("debugger", "torch", "transformers", "peft", "accelerate",
                                              "datasets", "tree-sitter")},
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count()},
    }
