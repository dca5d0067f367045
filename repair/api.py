"""The Python API: `Debugger(model=...).fix("pkg/mod.py")` returns the FixResult the CLI renders.

The models are loaded once per Debugger (per model, adapter and engine) and reused across `fix` calls,
so a script repairing many files pays each load once.
"""
from __future__ import annotations

from pathlib import Path

from .config import resolve
from .pipeline import FixResult, Models, fix
from .source import find_root


class Debugger:
    def __init__(self, model: str | None = None, **settings):
        self.settings = dict(settings, model=model)
        self._models: dict[tuple, Models] = {}  # (model, adapter, engine) -> what fix loaded for them

    def fix(self, path: str, *, root: str | None = None, apply: bool = False, on_event=None) -> FixResult:
        proj = Path(root).expanduser().resolve() if root else find_root(Path(path).expanduser().resolve())
        cfg = resolve(proj, self.settings)
        models = self._models.setdefault((cfg.model, cfg.adapter, cfg.engine), Models())
        return fix(path, cfg, root=root, apply=apply, models=models, on_event=on_event)


__all__ = ["Debugger", "FixResult"]
