"""Resolve a --model spec to weights on disk, converting a GGUF pack once into a safetensors cache.

Specs: a pack name (``qwen2.5-coder-0.5b``), a local ``.gguf`` file (llama.cpp engine only), a local Hugging
Face model directory, a hub id (online only), ``openai:BASE_URL#MODEL`` for an OpenAI-compatible endpoint, or
``fake:FIXED_FILE`` for tests. A pack is kept as its hash-checked GGUF, which the llama.cpp engine loads as it
is; the transformers engine (and training) get a safetensors copy converted from it once.
torch/transformers are imported inside functions: ``debugger --help`` must stay instant.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .packs import PACKS, Pack, PackError, assemble, find_parts, home, verify_file

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class ModelStatus:
    spec: str
    kind: str  # "pack" | "gguf" | "dir" | "hub" | "openai" | "fake"
    installed: bool
    cached: bool
    path: str | None
    detail: str


def kind_of(spec: str) -> str:
    if spec in PACKS:
        return "pack"
    if spec.startswith("fake:"):
        return "fake"
    if spec.startswith("openai:"):
        return "openai"
    if spec.endswith(".gguf") and Path(spec).expanduser().is_file():
        return "gguf"
    if Path(spec).expanduser().is_dir():
        return "dir"
    if "/" in spec and not spec.startswith((".", "/", "~")):
        return "hub"
    raise PackError(f"unknown model {spec!r}: use one of {', '.join(PACKS)}, a .gguf file, a local model "
                    "directory, a hub id, openai:URL#MODEL or fake:FILE")


def cache_dir(pack: Pack) -> Path:
    return home() / "models" / pack.name


def status(spec: str, weights: str = "safetensors") -> ModelStatus:
    """`cached`: ready as `weights` (an engine's: "gguf" assembled, or "safetensors" converted) without more work."""
    kind = kind_of(spec)
    if kind != "pack":
        return ModelStatus(spec, kind, True, kind in ("dir", "gguf"), spec, "")
    pack = PACKS[spec]
    hf = cache_dir(pack) / "hf"
    where = cache_dir(pack) / "model.gguf" if weights == "gguf" else hf
    cached = where.is_file() if weights == "gguf" else (hf / "debugger.json").is_file()
    try:
        find_parts(pack)
        installed, detail = True, f"{pack.parts} parts installed"
    except PackError as e:
        installed, detail = False, str(e)
    return ModelStatus(spec, kind, installed, cached, str(where) if cached else None, detail)


def check(spec: str) -> None:
    """Fail fast (before any test runs) when a named model is not installed (its parts are needed to
    rebuild the GGUF either engine starts from)."""
    if kind_of(spec) == "pack":
        pack = PACKS[spec]
        if not (cache_dir(pack) / "hf" / "debugger.json").is_file() or not (cache_dir(pack) / "model.gguf").is_file():
            find_parts(pack)


def gguf_file(spec: str, progress: Progress | None = None) -> Path:
    """The model as one GGUF file for the llama.cpp engine: a pack is assembled from its parts once and
    hash-checked every time before it is handed to the parser (a swapped cache is never loaded)."""
    kind = kind_of(spec)
    if kind == "gguf":
        return Path(spec).expanduser().resolve()
    if kind != "pack":
        raise PackError(f"model {spec!r} is not a GGUF model: the llama.cpp engine takes a pack name or a "
                        ".gguf file (use --engine transformers for a model directory or hub id)")
    pack = PACKS[spec]
    gguf = cache_dir(pack) / "model.gguf"
    if not verify_file(pack, gguf):
        parts = find_parts(pack)
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            if progress:
                progress("assemble", done[0], pack.size)
        assemble(pack, gguf, parts, progress=step)
        if not verify_file(pack, gguf):  # the file may have been swapped since it was written
            gguf.unlink(missing_ok=True)
            raise PackError(f"cached GGUF for {pack.name} failed its sha256 check; removed it, run again")
    return gguf


def prepare(spec: str, progress: Progress | None = None) -> Path | str:
    """Return something ``from_pretrained`` accepts, converting a pack on first use."""
    kind = kind_of(spec)
    if kind == "dir":
        return Path(spec).expanduser().resolve()
    if kind == "hub":
        return spec
    if kind != "pack":
        raise PackError(f"model {spec!r} has no local weights to prepare")
    pack = PACKS[spec]
    hf = cache_dir(pack) / "hf"
    if (hf / "debugger.json").is_file():
        _unmark_quantized(hf)
        return hf
    gguf = gguf_file(spec, progress)  # hashed right before parsing
    _convert(pack, gguf, hf, progress)  # the GGUF stays: the llama.cpp engine loads it as it is
    return hf


def _convert(pack: Pack, gguf: Path, out: Path, progress: Progress | None) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    if progress:
        progress("convert", 0, 3)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    src = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if progress:
        progress("convert", 1, 3)
    # A GGUF-loaded model refuses save_pretrained: rebuild from its config and copy the weights over.
    dst = AutoModelForCausalLM.from_config(src.config, dtype=torch.float32)
    dst.load_state_dict(src.state_dict(), strict=True)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    dst.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    _unmark_quantized(tmp)
    if progress:
        progress("convert", 2, 3)
    (tmp / "debugger.json").write_text(json.dumps({
        "pack": pack.name, "source": pack.hf_name, "gguf_sha256": pack.sha256,
        "converted_seconds": round(time.time() - t0, 1), "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    if progress:
        progress("convert", 3, 3)


def _unmark_quantized(hf: Path) -> None:
    """The config copied from the GGUF-loaded model still says `quant_method: gguf`, though the saved
    weights are plain fp32: transformers then refuses to train on them. Drop the mark (also from caches
    converted before this fix)."""
    path = hf / "config.json"
    cfg = json.loads(path.read_text())
    if cfg.pop("quantization_config", None) is not None:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cfg, indent=2) + "\n")
        os.replace(tmp, path)


def load_hf(spec: str, threads: int | None = None, progress: Progress | None = None):
    """(model, tokenizer) in fp32 on CPU, or on GPU when one is present; never runs remote code."""
    where = prepare(spec, progress)  # a missing pack fails here, before torch is even imported
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # we draw our own; theirs would interleave with ours
    hf_logging.set_verbosity_error()
    if threads:
        torch.set_num_threads(threads)
    offline = kind_of(spec) != "hub" or os.environ.get("HF_HUB_OFFLINE") == "1"
    kw = dict(trust_remote_code=False, local_files_only=offline)
    tok = AutoTokenizer.from_pretrained(where, **kw)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32  # bf16 decodes slower on these CPUs
    model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, use_safetensors=True, **kw).to(device)
    model.eval()
    return model, tok


def weights_for(spec: str, engine, progress: Progress | None = None) -> Path:
    """The weights of `spec` on disk as `engine` (engines.Engine) loads them: the GGUF, or the safetensors copy."""
    return gguf_file(spec, progress) if engine.weights == "gguf" else prepare(spec, progress)
