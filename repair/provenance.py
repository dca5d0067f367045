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


def engine_build() -> str | None:
    """The CPU features the installed llama.cpp engine was compiled for (a wheel built for AVX2, or one
    setup.sh built for this machine's CPU): the same weights run at different speeds on the two."""
    try:
        import xllamacpp
    except ImportError:
        return None
    from .engines.native import features
    info = xllamacpp.get_system_info()
    return " ".join(features(info)) or info.strip()


def build_name(features: str | None) -> str:
    """An engine build in a word: the prebuilt xllamacpp wheel is "AVX2", setup.sh's build for an AVX-512 CPU
    "AVX-512"; "" when no llama.cpp engine is installed."""
    if not features:
        return ""
    return "AVX-512" if "AVX512" in features.split() else "AVX2"


def _outside(output: Path | None) -> list[str]:
    """A git pathspec leaving `output` out, where it lies inside the repository."""
    if output is None:
        return []
    try:
        return [f":(exclude){Path(output).resolve().relative_to(REPO.resolve())}"]
    except ValueError:  # outside the repository: git status never sees it
        return []


def provenance(output: Path | None = None) -> dict:
    """Where a measurement came from. `output`: the folder the measurement writes into, left out of
    `git_dirty` (a run writing into docs/ would otherwise call its own results uncommitted changes), as are
    untracked files."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "git_sha": git("rev-parse", "HEAD") or None,
        # tracked files changed; untracked ones (a link, a scratch file) change no code that ran
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", *_outside(output))),
        "versions": {k: _version(k) for k in ("debugger", "torch", "transformers", "peft", "accelerate",
                                              "datasets", "tree-sitter", "xllamacpp")},
        "engine_build": engine_build(),
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count()},
    }
