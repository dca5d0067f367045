"""The Python API: `Debugger(model=...).fix("pkg/mod.py")` returns the FixResult the CLI renders.

The generator is created once per Debugger and reused across `fix` calls, so a script repairing many
files pays the model load once.
"""
from __future__ import annotations

from pathlib import Path

from .config import resolve
from .pipeline import FixResult, fix, make_generator
from .source import find_root


class Debugger:
    def __init__(self, model: str | None = None, **settings):
        self.settings = dict(settings, model=model)
        self._generator = None

    def fix(self, path: str, *, root: str | None = None, apply: bool = False, on_event=None) -> FixResult:
        proj = Path(root).expanduser().resolve() if root else find_root(Path(path).expanduser().resolve())
        cfg = resolve(proj, self.settings)
        emit = on_event or (lambda name, payload: None)
        if self._generator is None or getattr(self._generator, "_spec", None) != (cfg.model, cfg.adapter):
            self._generator = None
        gen = self._generator

        def lazy_emit(name, payload):
            if name == "model":
                self._generator = payload
                self._generator._spec = (cfg.model, cfg.adapter)
            emit(name, payload)
        return fix(path, cfg, root=root, apply=apply, generator=gen, on_event=lazy_emit)


__all__ = ["Debugger", "FixResult", "make_generator"]
