"""Typed settings: dataclass defaults < [tool.debugger] in the project's pyproject.toml < CLI flags."""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .packs import DEFAULT_MODEL
from .source import InputError


@dataclass
class FixConfig:
    model: str = DEFAULT_MODEL
    adapter: str | None = None  # PEFT adapter dir applied to the model ("none": no adapter)
    test: str | None = None  # shell command run from the project root; default: pytest
    samples: int = 3  # sampled candidates per prompt, beside the greedy one
    temperature: float = 0.7
    rounds: int = 2  # feedback rounds after the first, when no candidate passes
    top_k: int = 6  # statements tried with infill
    functions: int = 2  # functions tried with rewrite
    formats: list[str] = field(default_factory=lambda: ["infill", "rewrite"])
    timeout: float = 300.0  # one run of the test suite
    test_timeout: float = 10.0  # one test
    budget: float = 600.0  # seconds for the whole repair before giving up
    threads: int | None = None  # torch threads; default: all cores
    surprisal: bool = True  # model surprisal as a localization signal
    sandbox: str = "local"


def _pyproject_settings(root: Path) -> dict:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot parse ({e})") from None
    return data.get("tool", {}).get("debugger", {})


def resolve(root: Path, overrides: dict | None = None) -> FixConfig:
    names = {f.name: f for f in dataclasses.fields(FixConfig)}
    merged: dict = {}
    for source, values in (("pyproject.toml [tool.debugger]", _pyproject_settings(root)),
                           ("command line", overrides or {})):
        for key, value in values.items():
            key = key.replace("-", "_")
            if key not in names:
                raise InputError(f"{source}: unknown setting {key!r}")
            if value is not None:
                merged[key] = value
    cfg = FixConfig(**merged)
    if isinstance(cfg.formats, str):
        cfg.formats = [f.strip() for f in cfg.formats.split(",") if f.strip()]
    bad = [f for f in cfg.formats if f not in ("infill", "rewrite")]
    if bad:
        raise InputError(f"unknown edit format(s) {bad}: use infill, rewrite")
    if cfg.adapter in ("none", ""):
        cfg.adapter = None
    return cfg
