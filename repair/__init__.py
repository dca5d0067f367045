"""debugger: offline, LLM-powered repair for Python. `from repair import Debugger`."""
from .api import Debugger, FixResult

__all__ = ["Debugger", "FixResult"]
