"""Redact secret-looking strings before anything reaches disk (datasets, runs, logs)."""
from __future__ import annotations

import re

PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub tokens
    re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    re.compile(r"sk-[A-Za-z0-9_-]{20,}"),  # OpenAI-style keys
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # JWT
]
# key = "value" where the key names a secret and the value looks like one (long, no spaces)
ASSIGN = re.compile(r"""(?i)((?:password|passwd|secret|token|api[_-]?key|access[_-]?key)\w*["']?\s*[:=]\s*["'])"""
                    r"""([^"'\s]{8,})(["'])""")
MASK = "<redacted>"


def redact(text: str) -> str:
    for p in PATTERNS:
        text = p.sub(MASK, text)
    return ASSIGN.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def redact_obj(obj):
    """`redact` over every string in a JSON-like structure (before json.dumps escapes the quotes)."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_obj(v) for v in obj]
    return obj
