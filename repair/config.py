"""Typed settings: dataclass defaults < the user's config < [tool.debugger] < a --config file < CLI flags.

The project under repair is untrusted input (a repository just cloned): its `[tool.debugger]` may tune the
search (PROJECT_KEYS), never decide where code, keys or files go, nor weaken isolation. Those settings come
from the user's own config file ($XDG_CONFIG_HOME/debugger/config.toml) or flags; set in the project they
are refused with one line naming the key. Every value is checked here, before any test runs or model loads.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .engines import SETTINGS as ENGINE_SETTINGS
from .engines.packs import DEFAULT_MODEL, PACKS
from .errors import InputError, TrustError


SEARCH, PROJECT, USER = "search", "project", "user"  # who may set a setting (see `setting`)


def setting(default, help: str, *, who: str = SEARCH, bounds: tuple | None = None, choices: tuple | None = None,
            why: str = "", flag: bool = True, factory=None):
    """A FixConfig field with what the command line, the trust rules, the server's request model and the
    settings table (docs/usage.md) is made from. `who`: SEARCH (the project's `[tool.debugger]` and a server
    request may set it: it tunes the search), PROJECT (the project may, a request may not), USER (only your
    config and flags; `why` says what it would decide). `bounds`: (low, high) of a number; `choices`: the
    values a string may take; `flag`: offered as a `debugger fix` option."""
    meta = {"help": help, "who": who, "bounds": bounds, "choices": choices, "why": why, "flag": flag}
    return field(default_factory=factory, metadata=meta) if factory else field(default=default, metadata=meta)


@dataclass
class FixConfig:
    strategy: str = setting("debugger", "debugger, or naive: the whole file and the failure in one chat (the eval "
                            "peer)", choices=("debugger", "naive"))
    model: str = setting(DEFAULT_MODEL, "a pack name, a model dir or .gguf, a hub id, openai:URL#MODEL", who=USER,
                         why="a remote endpoint or model path decides where your code goes")
    engine: str = setting("auto", "auto (llama.cpp wherever it is installed and the model is a GGUF), llama or "
                          "transformers", who=PROJECT, choices=ENGINE_SETTINGS)
    adapter: str | None = setting("auto", "PEFT adapter dir; auto: the repair adapter shipped for the model; none",
                                  who=USER, why="an adapter path outside the project decides which weights run")
    test: str | None = setting(None, "shell command that runs the tests, from the project root (default: pytest)",
                               who=PROJECT)
    samples: int = setting(3, "sampled candidates per prompt, beside the greedy one", bounds=(0, 64))
    temperature: float = setting(0.7, "sampling temperature", bounds=(0.0, 5.0))
    rounds: int = setting(2, "feedback rounds when no candidate passes", bounds=(0, 20))
    top_k: int = setting(6, "statements tried with infill", bounds=(1, 100))
    functions: int = setting(2, "functions tried with rewrite", bounds=(0, 20))
    # mutant: the localization probe's mutants that fixed the failing tests, validated before any model call
    formats: list[str] = setting(None, "edit formats, in order: mutant (the probe's), infill, rewrite",
                                 factory=lambda: ["mutant", "infill", "rewrite"],
                                 choices=("mutant", "infill", "rewrite"))
    # timeouts and budget are bounded so that a project cannot hold the machine for days
    timeout: float = setting(300.0, "seconds for one run of the test suite", bounds=(0.1, 86400.0))
    test_timeout: float = setting(10.0, "seconds for one test; a hanging test fails with \"timed out\"",
                                  bounds=(0.1, 3600.0))
    # every fix of the bundled examples and of the real bugs (docs/benchmarks.md) came within 70 s of the start
    # on 2 cores, their repairs' ends within 110 s: a miss ends in 2 minutes; --budget for a longer search
    budget: float = setting(120.0, "seconds for the whole repair", bounds=(1.0, 86400.0))
    # the search goes on after the first candidate passes, so that the fix is chosen among alternatives and a
    # disagreement between them is seen (choose.py)
    select: float = setting(20.0, "at most these seconds on alternatives once a candidate passes (0: take the first)",
                            bounds=(0.0, 3600.0))
    # not yet measured for what it adds to the confidence's precision (docs/benchmarks.md): off until it is
    generated: int = setting(0, "inputs hypothesis makes per changed function for the differential check, like "
                             "the tests' recorded values (0: only those and their neighbours; needs debugger[generate])", bounds=(0, 1000))
    threads: int | None = setting(None, "model threads (default: llama.cpp one core less than there are, torch all; "
                                  "a project: up to the cores)", who=PROJECT, bounds=(1, 1024))
    # measured in eval/bench_engine.py (docs/eval-engine): on 2 cores, greedy rewrites (which copy most of their
    # prompt) decode ~2.5x faster, infills and samples about as fast as without
    draft: str = setting("ngram", "speculative decoding on llama.cpp: ngram (drafts taken from the prompt's own "
                         "text) or none", who=PROJECT, choices=("ngram", "none"))
    # None: on transformers (the model it generates with reads them); on llama.cpp (it returns no prompt
    # log-probabilities) only for a second look where the mutation probe found no patch, from a transformers
    # copy loaded then (~10 s, ~1.8 GB). True loads that copy for every repair: 1 point of top-3 on held-out
    # bugs, docs/localization.md; False: never
    surprisal: bool | None = setting(None, "the model's surprisal as a localization signal (default: where the "
                                     "engine reads it, or for a second look)")
    weights: dict = setting(None, "localization feature weights over the fitted ones (localize.FEATURES), finite "
                            "numbers", factory=dict, flag=False)
    sandbox: str = setting("auto", "auto (the strongest that works here), bwrap, unshare or local", who=USER,
                           choices=("auto", "bwrap", "unshare", "local"),
                           why="it can switch the isolation of untrusted code off")
    context_lines: int | None = setting(None, "infill window on each side of the span (default: the adapter's, "
                                        "else 40 for weights run here, all for an endpoint)", bounds=(1, 10000))
    record: str | None = setting(None, "with --apply: append the verified bug/fix pair to this JSONL", who=USER,
                                 why="it names a file debugger writes to", flag=False)


def meta(name: str) -> dict:
    """A setting's declaration (see `setting`)."""
    return FixConfig.__dataclass_fields__[name].metadata


SETTINGS = tuple(FixConfig.__dataclass_fields__)
# What the project under repair may set: the search's own knobs, the test command (it runs in the sandbox
# anyway), the engine, threads up to the cores (checked below); a request to the server: the search's knobs.
PROJECT_KEYS = {n for n in SETTINGS if meta(n)["who"] in (SEARCH, PROJECT)}
REQUEST_KEYS = tuple(n for n in SETTINGS if meta(n)["who"] == SEARCH)
USER_ONLY_WHY = {n: meta(n)["why"] for n in SETTINGS if meta(n)["who"] == USER}
BOUNDS = {n: meta(n)["bounds"] for n in SETTINGS if meta(n)["bounds"]}
CHOICES = {n: meta(n)["choices"] for n in SETTINGS if meta(n)["choices"]}  # a list's: of each of its items


def read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read settings ({e})") from None


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "debugger" / "config.toml"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _kind(name: str) -> type:
    """The setting's type as declared on FixConfig, Optional unwrapped (`int | None` -> int, `list[str]` -> list)."""
    import types
    import typing
    t = typing.get_type_hints(FixConfig)[name]
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        t = next(a for a in typing.get_args(t) if a is not type(None))
    return typing.get_origin(t) or t


KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", list: "a list of names", dict: "a table",
              str: "a string"}


def _typed(name: str, value, source: str):
    """The value in the field's type, or a one-line InputError naming the setting and where it came from."""
    kind = _kind(name)
    bad = InputError(f"{source}: setting {name!r} must be {KIND_WORDS[kind]}, got {value!r}")
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        value = float(value)
    elif kind is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad
    elif kind is dict:
        if not isinstance(value, dict):
            raise bad
        import math
        for k, v in value.items():  # weights: feature -> a finite number
            if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(f"{source}: setting {name!r} must map names to finite numbers, got {k!r} = {v!r}")
        value = {k: float(v) for k, v in value.items()}
    elif not isinstance(value, str):
        raise bad
    if name in BOUNDS:
        lo, hi = BOUNDS[name]
        if not lo <= value <= hi:
            raise InputError(f"{source}: setting {name!r} must be between {lo:g} and {hi:g}, got {value!r}")
    if name in CHOICES and kind is not list and value not in CHOICES[name]:
        raise InputError(f"{source}: unknown {name} {value!r}: use {', '.join(CHOICES[name])}")
    return value


def _in_project(root: Path, value: str) -> Path | None:
    """`value` (a path relative to the project, or absolute) as an absolute path, if it exists inside ROOT."""
    p = Path(value).expanduser()
    try:
        p = (p if p.is_absolute() else root / p).resolve()
    except (OSError, ValueError):
        return None
    return p if p.is_relative_to(root.resolve()) and p.exists() else None


# What loads the model. A long-lived process (`debugger serve`, `debugger lsp`) loads it once, from its
# operator's flags and config: no job, project or request may change it there.
MODEL_KEYS = ("model", "adapter", "engine", "threads")


def _project_refusal(root: Path, key: str, value, request: bool, pinned) -> tuple[str | None, object]:
    """(why the project, or a request, may not set `key` to `value`: None when it may; the value to take).
    A pack name, or a model or adapter inside the project itself, sends nothing anywhere: it is taken as an
    absolute path inside the project, resolved here once; anything else is the user's decision."""
    if pinned is not None and key in MODEL_KEYS:
        if _same(key, value, pinned):
            return None, value
        return "this server's model is its operator's, fixed at start", value
    if request and key == "test":
        return "a request does not choose the command the server runs: the project's own [tool.debugger] or the " \
               "server's --test does", value
    if key in PROJECT_KEYS:
        if key == "threads" and isinstance(value, int) and not isinstance(value, bool) and value > _cores():
            return f"more model threads than the {_cores()} cores starves the tests that run beside the model", value
        return None, value
    if key == "model" and isinstance(value, str):
        if value in PACKS:
            return None, value
        fake = value.startswith("fake:")
        where = None if value.startswith("openai:") else _in_project(root, value.removeprefix("fake:"))
        if where is not None and ((where.suffix == ".py") if fake else (where.is_dir() or where.suffix == ".gguf")):
            return None, ("fake:" if fake else "") + str(where)
    if key == "adapter" and isinstance(value, str):
        if value in ("auto", "none"):
            return None, value
        if (where := _in_project(root, value)) is not None and where.is_dir():
            return None, str(where)
    if key == "sandbox" and value == "auto":
        return None, value
    return USER_ONLY_WHY.get(key, "it is not a search setting"), value


def _same(key: str, value, pinned) -> bool:
    """Whether a model setting names what the long-lived process runs anyway (then it changes nothing)."""
    ours = getattr(pinned, key)
    if key == "adapter" and value in ("auto", "none"):
        return (value == "none" and ours is None) or (value == "auto" and ours == shipped_adapter(pinned.model))
    return value == ours


def resolve(root: Path, overrides: dict | None = None, config_file: str | Path | None = None,
            request: dict | None = None, *, project: bool = True, pinned: FixConfig | None = None) -> FixConfig:
    """Defaults < the user's config < [tool.debugger] in ROOT/pyproject.toml (search settings only) < a --config
    TOML file (named by the user) < command-line flags < `request` (a `debugger serve` job's settings: search
    settings only, like the project's, and never the test command). Raises InputError (one line) on any bad
    value, TrustError on a setting its source may not set.

    `project=False` leaves the project's settings out (a long-lived process's own configuration, see
    `operator`). `pinned` (that configuration) holds the model fixed: a job of `debugger serve` or `debugger
    lsp` may tune the search, but its project or request may not set MODEL_KEYS to anything else, and the
    job runs the pinned model, adapter, engine, threads, sandbox, and never records."""
    names = {f.name for f in dataclasses.fields(FixConfig)}
    merged: dict = {}
    user = user_config_path()
    pyproject = root / "pyproject.toml"
    layers = [(str(user), read_toml(user) if user.is_file() else {}, False)]
    if project:
        layers.append((f"{pyproject} [tool.debugger]",
                       read_toml(pyproject).get("tool", {}).get("debugger", {}) if pyproject.is_file() else {}, True))
    if config_file:
        if not Path(config_file).is_file():
            raise InputError(f"{config_file}: no such config file")
        layers.append((str(config_file), read_toml(Path(config_file)), False))
    layers.append(("command line", overrides or {}, False))
    if request:
        layers.append(("request", request, True))
    for source, values, untrusted in layers:
        if not isinstance(values, dict):
            raise InputError(f"{source}: settings must be a table")
        for key, value in values.items():
            key = key.replace("-", "_") if isinstance(key, str) else key
            if key not in names:
                raise InputError(f"{source}: unknown setting {key!r}")
            if value is None:
                continue
            if untrusted:
                why, value = _project_refusal(root, key, value, source == "request", pinned)
                if why:
                    whose = "the project under repair" if source != "request" else "a request"
                    where = f"in {user} or pass --{key.replace('_', '-')}" if pinned is None else \
                        f"with the server's --{key.replace('_', '-')}"
                    raise TrustError(f"{source}: {key} is not taken from {whose} ({why}); set it {where}")
            merged[key] = _typed(key, value, source)
    cfg = FixConfig(**merged)
    bad = [f for f in cfg.formats if f not in CHOICES["formats"]]
    if bad or not cfg.formats:
        raise InputError(f"unknown edit format(s) {bad}: use {', '.join(CHOICES['formats'])}")
    if pinned is not None:
        for key in (*MODEL_KEYS, "sandbox"):
            setattr(cfg, key, getattr(pinned, key))
        cfg.record = None
    if cfg.adapter == "auto":
        cfg.adapter = shipped_adapter(cfg.model)
    if cfg.adapter in ("none", ""):
        cfg.adapter = None
    if cfg.adapter:
        where = Path(cfg.adapter).expanduser()
        where = where if where.is_absolute() else (root / where if (root / where).exists() else where.resolve())
        if not (where / "adapter_config.json").is_file():
            raise InputError(f"{cfg.adapter}: not a PEFT adapter directory (no adapter_config.json)")
        cfg.adapter = str(where)
    if cfg.adapter and cfg.context_lines is None:
        cfg.context_lines = adapter_context_lines(cfg.adapter)
    if cfg.context_lines is None and _local_weights(cfg.model):
        cfg.context_lines = UNADAPTED_WINDOW
    if cfg.model.startswith("openai:"):
        check_endpoint(cfg.model[7:])
    if cfg.generated:
        import importlib.util
        if importlib.util.find_spec("hypothesis") is None:
            raise InputError("generated inputs need hypothesis: pip install 'debugger[generate]'")
    from .localization.ranking import weights_for
    try:
        weights_for(cfg.weights)
    except ValueError as e:
        raise InputError(str(e)) from None
    return cfg


def operator(flags: dict, config_file: str | Path | None = None) -> FixConfig:
    """The configuration of a long-lived process (`debugger serve`, `debugger lsp`): its operator's own config
    file and flags, no project's. Its model, adapter, engine, threads and sandbox hold for every job."""
    return resolve(Path.cwd(), flags, config_file, project=False)


def check_endpoint(spec: str) -> None:
    """An API key goes only over https or to this machine: refuse, before anything runs, to send
    $OPENAI_API_KEY in the clear to another host."""
    from urllib.parse import urlsplit
    url = urlsplit(spec.partition("#")[0])
    if url.scheme not in ("http", "https") or not url.hostname:
        raise InputError(f"openai model spec needs a URL: openai:http://host:port/v1#MODEL, got {spec!r}")
    if url.scheme == "http" and os.environ.get("OPENAI_API_KEY") and not loopback(url.hostname):
        raise InputError(f"refusing to send $OPENAI_API_KEY over plain http to {url.hostname}: use https, a "
                         "loopback address, or unset the key")


def loopback(host: str) -> bool:
    import ipaddress
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


ADAPTERS = Path(__file__).parent / "adapters"  # adapters shipped inside the package, one dir per pack


def shipped_adapter(model: str) -> str | None:
    """The repair adapter trained for a pack and shipped inside the package (repair/adapters/PACK); none for
    a model dir, hub id or endpoint: an adapter fits only the weights it was trained on."""
    if model not in PACKS:
        return None
    where = ADAPTERS / model
    return str(where) if (where / "adapter_config.json").is_file() else None


def adapter_label(adapter: str) -> str:
    """How a model name shows its adapter: "(shipped)" for the one inside the package, else its path."""
    return "(shipped)" if Path(adapter).resolve().is_relative_to(ADAPTERS.resolve()) else str(adapter)


def model_label(spec: str, adapter: str | None) -> str:
    """The model as results name it ("qwen2.5-coder-0.5b + LoRA (shipped)"), known before it loads."""
    return spec if not adapter else f"{spec} + LoRA {adapter_label(adapter)}"


# The infill window of a model loaded here whose adapter names none (no adapter: the 1.5B, --adapter none): the
# whole file of a real project is thousands of tokens to prefill per prompt, 60-150 s for the 1.5B on 2 cores
# (a markdown module: one prompt outlived the 120 s budget); 40 lines fixed more than the whole file did on the
# base 0.5B (docs/benchmarks.md, held-out split)
UNADAPTED_WINDOW = 40


def _local_weights(model: str) -> bool:
    """Whether the model's weights run on this machine (a pack, a GGUF, a directory, a hub id), where prefill is
    paid in seconds per thousand tokens; an endpoint or the test fake is shown the whole file."""
    from .engines import ENGINES
    from .engines.specs import kind_of
    try:
        kind = kind_of(model)
    except Exception:
        return False
    return any(e.weights and kind in e.kinds for e in ENGINES.values())


def adapter_base(adapter: str) -> str:
    """The model an adapter was trained on (training/ saves it; else the shipped adapter's base), so that it is
    evaluated on those weights whatever the default model is."""
    import json
    from .engines.packs import SMALL_MODEL
    meta = Path(adapter).expanduser() / "debugger_train.json"
    if not meta.is_file():
        return SMALL_MODEL
    return json.loads(meta.read_text()).get("config", {}).get("base") or SMALL_MODEL


def adapter_context_lines(adapter: str) -> int | None:
    """The window an adapter was trained with (training/ saves it), so it is prompted exactly so."""
    import json
    meta = Path(adapter).expanduser() / "debugger_train.json"
    if not meta.is_file():
        return None
    return json.loads(meta.read_text()).get("config", {}).get("context_lines")


WHO_WORDS = {SEARCH: "you, project, request", PROJECT: "you, project", USER: "you"}
TABLE_START, TABLE_END = "<!-- settings table: made by `python -m debugger.config docs/usage.md` -->", "<!-- /settings -->"


def settings_table() -> str:
    """The table of settings (docs/usage.md), made from their declarations."""
    rows = ["| setting | default | who may set it | what it does |", "|---|---|---|---|"]
    for n in SETTINGS:
        f = FixConfig.__dataclass_fields__[n]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        shown = "—" if default is None or default == {} else (",".join(default) if isinstance(default, list) else default)
        m = meta(n)
        what = m["help"] + (f" ({m['bounds'][0]:g} to {m['bounds'][1]:g})" if m["bounds"] else "")
        who = WHO_WORDS[m["who"]] + (" (project: a pack or a path inside it)" if n == "model" else
                                     " (project: auto, none or a path inside it)" if n == "adapter" else "")
        rows.append(f"| `{n}` | {shown} | {who} | {what.replace('|', '/')} |")
    return "\n".join(rows)


def write_settings_table(readme: Path) -> bool:
    """Rewrite the table between its markers in `readme`; whether it changed."""
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    new = f"{head}{TABLE_START}\n{settings_table()}\n{TABLE_END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # python -m debugger.config docs/usage.md
    print("rewritten" if write_settings_table(Path(sys.argv[1])) else "up to date")
