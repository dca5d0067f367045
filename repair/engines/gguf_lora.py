"""A PEFT LoRA adapter in llama.cpp's GGUF LoRA format, converted once and cached by content hash.

The format is what llama.cpp's own convert_lora_to_gguf.py writes: `general.type = adapter`,
`adapter.type = lora`, `adapter.lora.alpha`, and per adapted weight two f32 tensors named after the base
model's GGUF tensor (`blk.N.attn_q.weight.lora_a` holding A (r x in), `.lora_b` holding B (out x r)).
llama.cpp scales by alpha / r itself. Only plain LoRA converts (repair/lora.py decides what is plain); the
rest is refused with a message, since the engine would load it wrong rather than fail.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .gguf_header import read_header
from .lora import AdapterError, plain
from .packs import home


def gguf_architecture(path: Path) -> str:
    """`general.architecture` from a GGUF header."""
    try:
        arch = read_header(path, {"general.architecture"}).get("general.architecture")
    except ValueError as e:
        raise AdapterError(str(e)) from None
    if not isinstance(arch, str):
        raise AdapterError(f"{path}: GGUF without general.architecture")
    return arch


def convert(adapter: str | Path, arch: str, out: Path) -> Path:
    """Write the adapter at `adapter` (PEFT dir) as a GGUF LoRA for a base of architecture `arch`."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    where = Path(adapter).expanduser()
    cfg = json.loads((where / "adapter_config.json").read_text())
    if not plain(cfg) or cfg.get("use_rslora"):
        raise AdapterError(f"{where}: only plain LoRA adapters run on the llama.cpp engine "
                           "(use --engine transformers for this one)")
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, t in load_file(str(where / "adapter_model.safetensors")).items():
        for part in ("A", "B"):
            if key.endswith(f".lora_{part}.weight"):
                base = key.removeprefix("base_model.model.")[:-len(f".lora_{part}.weight")]
                pairs.setdefault(base, {})[part] = t.astype(np.float32)
                break
        else:
            raise AdapterError(f"{where}: unexpected tensor {key!r} (not a LoRA A/B pair)")
    layers = [int(k.split(".layers.")[1].split(".")[0]) for k in pairs if ".layers." in k]
    try:
        arch_id = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch]
    except KeyError:
        raise AdapterError(f"no GGUF tensor names known for architecture {arch!r}") from None
    names = gguf.get_tensor_name_map(arch_id, max(layers, default=0) + 1)
    tmp = out.with_name(out.name + ".partial")
    w = gguf.GGUFWriter(str(tmp), arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(cfg["lora_alpha"]))
    for base, ab in sorted(pairs.items()):
        name = names.get_name(base + ".weight", try_suffixes=(".weight",))
        if name is None or set(ab) != {"A", "B"}:
            raise AdapterError(f"{where}: {base} has no GGUF counterpart in a {arch} model")
        w.add_tensor(name + ".lora_a", ab["A"])
        w.add_tensor(name + ".lora_b", ab["B"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, out)
    return out


def cached(adapter: str | Path, base_gguf: Path) -> Path:
    """The GGUF LoRA for `adapter` on `base_gguf`, converted on first use into $DEBUGGER_HOME/adapters,
    named by the hash of the adapter's files (an edited adapter is converted again)."""
    where = Path(adapter).expanduser()
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        try:
            digest.update((where / name).read_bytes())
        except OSError as e:
            raise AdapterError(f"{where}: not a PEFT adapter ({e})") from None
    arch = gguf_architecture(base_gguf)
    out = home() / "adapters" / f"{digest.hexdigest()[:16]}-{arch}.gguf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        convert(where, arch, out)
    return out
