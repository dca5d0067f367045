"""The Python API: `Debugger(model=...).fix("pkg/mod.py")` returns the FixResult the CLI renders.

The generator is created once per Debugger and reused across `fix` calls, so a script repairing many
files pays the model load once.
"""
from __future__ import annotations

from pathlib import Path

from .config import resolve
from .pipeline import FixResult, fix
from .source import find_root


class Debugger:
    def __init__(self, model: str | None = None, **settings):
        self.settings = dict(settings, model=model)
        self._loaded: dict[tuple, dict] = {}  # (model, adapter, engine) -> {"model": generator, "scorer": ...}

    def fix(self, path: str, *, root: str | None = None, apply: bool = False, on_event=None) -> FixResult:
        proj = Path(root).expanduser().resolve() if root else find_root(Path(path).expanduser().resolve())
        cfg = resolve(proj, self.settings)
        loaded = self._loaded.setdefault((cfg.model, cfg.adapter, cfg.engine), {})
        emit = on_event or (lambda name, payload: None)

        def remember(name, payload):  # the pipeline loads the model only when it needs it
            if name in ("model", "scorer"):
                loaded[name] = payload
            emit(name, payload)
        return fix(path, cfg, root=root, apply=apply, generator=loaded.get("model"), scorer=loaded.get("scorer"),
                   on_event=remember)


__all__ = ["Debugger", "FixResult"]
