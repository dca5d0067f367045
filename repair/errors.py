"""One family of errors. Every error debugger raises on purpose is a DebuggerError: one line for the user,
exit code 2 from the command line (bad input or environment), never a traceback. Each kind says where the
problem lies: the input (a file, a flag, a setting), a setting its source may not set, the model's packs,
an adapter, the git hooks, an eval task."""
from __future__ import annotations


class DebuggerError(Exception):
    """Something debugger refuses or cannot do, said in one line."""


class InputError(DebuggerError, ValueError):
    """Bad input from the user: reported as one line, exit code 2, nothing touched."""


class TrustError(InputError):
    """A setting from an untrusted source (the project under repair, a request to `debugger serve`) that only
    the user, or the server's operator, may set."""


class PackError(DebuggerError, RuntimeError):
    """A model pack that is missing, incomplete or fails its hash."""


class AdapterError(DebuggerError, ValueError):
    """A LoRA adapter that cannot be read or folded into the weights."""


class HookError(DebuggerError, RuntimeError):
    """The git hook cannot be installed, removed or run here."""
