"""Training settings as dataclasses, saved beside the adapter (debugger_train.json) with provenance.

Presets: `cpu` fits a 2-core laptop (short windows around the span, a few hundred examples, bf16 where the
CPU computes in it, under 90 minutes); `gpu` is for one or more GPUs under `accelerate launch` (longer windows, bigger batches).
Explicit settings override the preset.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from debugger.engines.packs import SMALL_MODEL


@dataclass
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass
class TrainConfig:
    data: str  # bug-record JSONL (data/ schema); its train split is used, valid for evaluation loss
    out: str  # adapter directory
    base: str = SMALL_MODEL  # a pack name, an HF model dir, or a hub id: its safetensors weights
    preset: str = "cpu"
    context_lines: int | None = 24  # lines kept on each side of the span; `debugger fix` uses the same
    max_length: int = 768  # tokens; longer examples are dropped, never truncated into a wrong target
    max_examples: int | None = 600
    eval_examples: int = 40
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    lr: float = 2e-4
    batch_size: int = 1
    grad_accum: int = 8
    warmup_ratio: float = 0.05
    # None: bf16 where the hardware computes in it (a GPU; a CPU with AMX or AVX512-BF16, where it measured ~1.8x
    # faster than fp32 a step), else fp32: on a CPU without them (an AVX2 AMD EPYC) bf16 took minutes an example
    bf16: bool | None = None
    logging_steps: int = 5
    eval_steps: int = 25
    save_steps: int = 25
    seed: int = 0
    threads: int | None = None
    lora: LoraSettings = field(default_factory=LoraSettings)


PRESETS: dict[str, dict] = {
    "cpu": {},
    "gpu": {"context_lines": 80, "max_length": 2048, "max_examples": None, "eval_examples": 200, "epochs": 2.0,
            "lr": 1e-4, "batch_size": 8, "grad_accum": 2, "logging_steps": 10, "eval_steps": 100,
            "save_steps": 200, "lora": {"r": 16, "alpha": 32, "dropout": 0.05,
                                        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                           "up_proj", "down_proj"]}},
}


def make(data: str, out: str, preset: str = "cpu", **overrides) -> TrainConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: use {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    lora = values.pop("lora", {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    bad = set(values) - known
    if bad:
        raise ValueError(f"unknown training setting(s) {sorted(bad)}")
    return TrainConfig(data=data, out=out, preset=preset, lora=LoraSettings(**lora) if lora else LoraSettings(),
                       **values)


def save(cfg: TrainConfig, path: Path, **extra) -> None:
    path.write_text(json.dumps({"config": asdict(cfg), **extra}, indent=2) + "\n")

