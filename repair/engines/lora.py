"""Fold a PEFT LoRA adapter into a loaded model's weights without importing peft.

`import peft` costs ~10 s here, more than loading the model; a plain LoRA adapter is only pairs of small
matrices, W += (alpha / r) * B @ A, so `debugger fix` merges it itself and starts as fast with the adapter
as without. Anything beyond plain LoRA (DoRA, biases, extra modules, per-layer ranks) goes through peft.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import AdapterError

PLAIN = {"peft_type": "LORA", "use_dora": False, "fan_in_fan_out": False, "bias": "none"}


def plain(cfg: dict) -> bool:
    """True when the adapter is plain LoRA, which `merge` folds exactly like peft's merge_and_unload."""
    if any(cfg.get(k, v) != v for k, v in PLAIN.items()):
        return False
    return not (cfg.get("modules_to_save") or cfg.get("rank_pattern") or cfg.get("alpha_pattern")
                or cfg.get("layer_replication") or cfg.get("lora_bias"))


def merge(model, adapter: str | Path) -> bool:
    """Add the adapter's deltas to `model` in place; False (model untouched) when peft must do it."""
    import torch
    from safetensors.torch import load_file

    where = Path(adapter).expanduser()
    try:
        cfg = json.loads((where / "adapter_config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise AdapterError(f"{where}: not a PEFT adapter ({e})") from None
    weights = where / "adapter_model.safetensors"
    if not plain(cfg) or not weights.is_file():
        return False
    r, alpha = cfg["r"], cfg["lora_alpha"]
    scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in load_file(str(weights)).items():
        for part in ("A", "B"):
            suffix = f".lora_{part}.weight"
            if key.endswith(suffix):
                pairs.setdefault(key[:-len(suffix)], {})[part] = t
                break
        else:
            return False  # an embedding adapter or something newer: leave it to peft
    params = dict(model.named_parameters())
    targets = []
    for module, ab in pairs.items():
        name = module.removeprefix("base_model.model.") + ".weight"
        if name not in params or set(ab) != {"A", "B"}:
            raise AdapterError(f"{where}: adapter does not fit this model ({name})")
        w, a, b = params[name], ab["A"], ab["B"]
        if (b.shape[0], a.shape[1]) != tuple(w.shape):
            raise AdapterError(f"{where}: adapter does not fit this model ({name}: {tuple(w.shape)})")
        targets.append((w, a, b))
    with torch.no_grad():  # every check passed above: the model is changed only as a whole
        for w, a, b in targets:
            w += (scale * (b.float() @ a.float())).to(w.dtype).to(w.device)
    return True
