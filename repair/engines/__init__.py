"""The engines that run a model, as one family behind a registry.

Each Engine says what it can do (capability flags) and how its Generator is made; nothing outside this
folder compares engine names. `pick` chooses the engine for a model spec and the `engine` setting; the
modules here are the engines (`llama`, `hf`, `endpoint`, `fake`), where the weights come from (`specs`,
`packs`), what llama.cpp needs of them (`gguf_header`, `gguf_lora`, `lora`, `native`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import PackError

Event = Callable[[Any], None]  # events.Emit


def _progress(on_event: Event) -> Callable[[str, int, int], None]:
    """Assembling or converting a model, as events the CLI draws as a bar."""
    from ..events import ModelProgress
    return lambda phase, done, total: on_event(ModelProgress(phase, done, total))


def _llama(cfg, on_event: Event):
    from .llama import LlamaGenerator
    return LlamaGenerator(cfg.model, cfg.adapter, cfg.threads, parallel=max(1, cfg.samples), progress=_progress(on_event),
                          draft=cfg.draft)


def _transformers(cfg, on_event: Event):
    from .hf import HFGenerator
    return HFGenerator(cfg.model, cfg.adapter, cfg.threads, progress=_progress(on_event))


def _endpoint(cfg, on_event: Event):
    from .endpoint import OpenAIGenerator
    return OpenAIGenerator(cfg.model.removeprefix("openai:"))


def _fake(cfg, on_event: Event):
    from .fake import FakeGenerator
    return FakeGenerator(cfg.model.removeprefix("fake:"))


@dataclass(frozen=True)
class Engine:
    name: str
    make: Callable  # (settings, on_event) -> its Generator, loaded
    scores: bool  # it reads prompt log-probabilities itself: the Generator is also the Scorer (surprisal)
    scored_beside: bool  # it reads none, but a transformers copy of the same weights can: the Scorer, loaded apart
    kinds: tuple[str, ...]  # the model specs it runs (specs.kind_of)
    settable: bool  # a name the `engine` setting may give (the others follow from the model spec)
    weights: str  # what it loads a pack as: "gguf", "safetensors", or "" (nothing local)
    native: bool  # compiled code that `debugger model info` says it was built for (native.py)
    loads: bool  # it loads weights here, worth starting while the tests run (pipeline.RepairContext.preload)


ENGINES = {
    "llama": Engine("llama", _llama, scores=False, scored_beside=True, kinds=("pack", "gguf"), settable=True,
                    weights="gguf", native=True, loads=True),
    "transformers": Engine("transformers", _transformers, scores=True, scored_beside=False,
                           kinds=("pack", "dir", "hub"), settable=True, weights="safetensors", native=False,
                           loads=True),
    "openai": Engine("openai", _endpoint, scores=False, scored_beside=False, kinds=("openai",), settable=False,
                     weights="", native=False, loads=False),
    "fake": Engine("fake", _fake, scores=False, scored_beside=False, kinds=("fake",), settable=False, weights="",
                   native=False, loads=True),
}
SETTINGS = ("auto", *(n for n, e in ENGINES.items() if e.settable))  # what the `engine` setting may say


def llama_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("xllamacpp") is not None


def pick(engine: str, spec: str) -> Engine:
    """The engine that runs `spec`: a spec only one engine runs (an endpoint, a fake) picks it; `auto` takes
    llama.cpp wherever its wheel is installed and the model is a GGUF, transformers otherwise."""
    from .specs import kind_of
    if engine not in SETTINGS:
        raise PackError(f"unknown engine {engine!r}: use {', '.join(SETTINGS)}")
    kind = kind_of(spec)
    only = [e for e in ENGINES.values() if not e.settable and kind in e.kinds]
    if only:
        return only[0]
    if engine == "auto":
        native = next(e for e in ENGINES.values() if e.native)
        return native if kind in native.kinds and llama_available() else ENGINES["transformers"]
    chosen = ENGINES[engine]
    if kind not in chosen.kinds:
        other = next(e.name for e in ENGINES.values() if e.settable and kind in e.kinds)
        raise PackError(f"the {chosen.name} engine does not run {spec!r} (a {kind}): use --engine {other}")
    if chosen.native and not llama_available():
        raise PackError("the llama engine is not installed: pip install xllamacpp (or --engine transformers)")
    return chosen


def make_generator(cfg, on_event: Event):
    """The Generator for the settings `cfg` (a FixConfig): its engine's, loaded now."""
    return pick(cfg.engine, cfg.model).make(cfg, on_event)


def make_scorer(cfg, engine: Engine, load_generator: Callable[[], Any], on_event: Event):
    """What reads the model's scores for localization (surprisal), or None when nothing can. An engine that
    scores is its own Scorer (the generator, loaded now); beside one that cannot but whose weights
    transformers reads (llama.cpp returns no log-probabilities of prompt tokens), the same weights (adapter
    folded in) are read by transformers, or those of the pack that reads for the model (scorer_settings):
    localization stays the one measured, at the cost of torch and a second copy of the weights."""
    if engine.scores:
        return load_generator()
    if not engine.scored_beside:
        return None
    scorer = _transformers(scorer_settings(cfg), on_event)
    from ..events import ScorerLoaded
    on_event(ScorerLoaded(scorer))
    return scorer


def scorer_settings(cfg):
    """The settings the transformers scorer beside llama.cpp loads: the model's own, or for a pack that names
    another to read for it (packs.Pack.scorer), that pack with its shipped adapter."""
    import dataclasses
    from .packs import reader
    if reader(cfg.model) == cfg.model:
        return cfg
    from ..config import shipped_adapter
    return dataclasses.replace(cfg, model=reader(cfg.model), adapter=shipped_adapter(reader(cfg.model)))


def reads_surprisal(cfg, engine: Engine) -> bool:
    """Whether localization reads the model's surprisal: as set, else where the generating engine can."""
    return cfg.surprisal if cfg.surprisal is not None else engine.scores


def surprisal_later(cfg, engine: Engine) -> bool:
    """Whether localization may load a scorer after all, for a second look where the mutation probe found
    no patch (localization/passes.py): beside an engine that scores nothing itself, with `surprisal` unset."""
    return cfg.surprisal is None and engine.scored_beside
