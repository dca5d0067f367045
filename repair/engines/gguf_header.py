"""Values from a GGUF file's header (the key-value section only: gguf.GGUFReader parses every tensor
record first, seconds for a model this size)."""
from __future__ import annotations

import struct
from pathlib import Path

SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}  # GGUF type


def read_header(path: Path, keys: set[str]) -> dict:
    """The header's values for `keys` (strings, numbers, and arrays of them), read in one pass; a key
    the file lacks is absent. ValueError when the file is no GGUF."""
    found: dict = {}
    with open(path, "rb") as f:
        def u(fmt: str):
            return struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))[0]

        def value(kind: int, keep: bool):
            if kind == 8:
                n = u("Q")
                if not keep:
                    f.seek(n, 1)
                    return None
                return f.read(n).decode("utf-8", "replace")
            if kind == 9:
                inner, n = u("I"), u("Q")
                if not keep and inner in SCALAR:
                    f.seek(n * struct.calcsize(SCALAR[inner]), 1)
                    return None
                items = [value(inner, keep) for _ in range(n)]
                return items if keep else None
            return u(SCALAR[kind])

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        u("I"), u("Q")  # version, tensor count
        for _ in range(u("Q")):
            key = value(8, True)
            kind = u("I")
            v = value(kind, key in keys)
            if key in keys:
                found[key] = v
                if len(found) == len(keys):
                    break
    return found
