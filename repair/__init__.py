"""debugger: offline, LLM-powered repair for Python. `from repair import Debugger`.

The exports load on first use, so `debugger --help` and the hook's fast path import only what they need.
"""
__all__ = ["Debugger", "FixResult"]


def __getattr__(name: str):
    if name in __all__:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'repair' has no attribute {name!r}")
