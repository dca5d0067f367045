"""Typed settings: dataclass defaults < [tool.debugger] in the project's pyproject.toml < CLI flags."""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .packs import DEFAULT_MODEL, PACKS
from .source import InputError


@dataclass
class FixConfig:
    strategy: str = "debugger"  # "debugger", or "naive": whole file + failure in one chat (the eval peer)
    model: str = DEFAULT_MODEL
    adapter: str | None = "auto"  # PEFT adapter dir; "auto": the one shipped for the model, if any; "none"
    test: str | None = None  # shell command run from the project root; default: pytest
    samples: int = 3  # sampled candidates per prompt, beside the greedy one
    temperature: float = 0.7
    rounds: int = 2  # feedback rounds after the first, when no candidate passes
    top_k: int = 6  # statements tried with infill
    functions: int = 2  # functions tried with rewrite
    # mutant: the localization probe's mutants that fixed the failing tests, validated before any model call
    formats: list[str] = field(default_factory=lambda: ["mutant", "infill", "rewrite"])
    timeout: float = 300.0  # one run of the test suite
    test_timeout: float = 10.0  # one test
    budget: float = 600.0  # seconds for the whole repair before giving up
    threads: int | None = None  # torch threads; default: all cores
    surprisal: bool = True  # the model's reads (surprisal, infill likelihood) as localization signals
    weights: dict = field(default_factory=dict)  # localization feature weights over the fitted ones (see localize.FEATURES)
    sandbox: str = "auto"  # auto (strongest that works here), bwrap, unshare, local
    context_lines: int | None = None  # infill window on each side of the span; default: the adapter's, else all
    record: str | None = None  # with --apply: append the verified bug/fix pair to this JSONL (data/ schema)


def read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read settings ({e})") from None


def resolve(root: Path, overrides: dict | None = None, config_file: str | Path | None = None) -> FixConfig:
    """Defaults < [tool.debugger] in ROOT/pyproject.toml < a --config TOML file < command-line flags."""
    names = {f.name: f for f in dataclasses.fields(FixConfig)}
    merged: dict = {}
    pyproject = root / "pyproject.toml"
    layers = [("pyproject.toml [tool.debugger]",
               read_toml(pyproject).get("tool", {}).get("debugger", {}) if pyproject.is_file() else {})]
    if config_file:
        layers.append((str(config_file), read_toml(Path(config_file))))
    layers.append(("command line", overrides or {}))
    for source, values in layers:
        for key, value in values.items():
            key = key.replace("-", "_")
            if key not in names:
                raise InputError(f"{source}: unknown setting {key!r}")
            if value is not None:
                merged[key] = value
    cfg = FixConfig(**merged)
    if isinstance(cfg.formats, str):
        cfg.formats = [f.strip() for f in cfg.formats.split(",") if f.strip()]
    bad = [f for f in cfg.formats if f not in ("mutant", "infill", "rewrite")]
    if bad:
        raise InputError(f"unknown edit format(s) {bad}: use mutant, infill, rewrite")
    if cfg.adapter == "auto":
        cfg.adapter = shipped_adapter(cfg.model)
    if cfg.adapter in ("none", ""):
        cfg.adapter = None
    if cfg.adapter and cfg.context_lines is None:
        cfg.context_lines = adapter_context_lines(cfg.adapter)
    if cfg.strategy not in ("debugger", "naive"):
        raise InputError(f"unknown strategy {cfg.strategy!r}: use debugger or naive")
    from .localize import weights_for
    try:
        weights_for(cfg.weights)
    except ValueError as e:
        raise InputError(str(e)) from None
    return cfg


ADAPTERS = Path(__file__).parent / "adapters"  # adapters shipped inside the package, one dir per pack


def shipped_adapter(model: str) -> str | None:
    """The repair adapter trained for a pack and shipped inside the package (repair/adapters/PACK); none for
    a model dir, hub id or endpoint: an adapter fits only the weights it was trained on."""
    if model not in PACKS:
        return None
    where = ADAPTERS / model
    return str(where) if (where / "adapter_config.json").is_file() else None


def adapter_context_lines(adapter: str) -> int | None:
    """The window an adapter was trained with (training/ saves it), so it is prompted exactly so."""
    import json
    meta = Path(adapter).expanduser() / "debugger_train.json"
    if not meta.is_file():
        return None
    return json.loads(meta.read_text()).get("config", {}).get("context_lines")
