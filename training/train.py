"""LoRA fine-tuning of the repair model on bug records: `debugger train`, or this file as a script.

    python -m debugger.training.train --data data/corpus/bugs.jsonl --preset cpu --out adapters/repair-0.5b
    accelerate launch --config_file training/accelerate/multi_gpu.yaml -m training.train --preset gpu ...

The base is the safetensors model from the cache (`debugger model pull`), never a GGUF-loaded object.
Loss is on the completion only. Checkpoints go to OUT/checkpoints and a rerun resumes from the last.
OUT gets the PEFT adapter (adapter_config.json + adapter_model.safetensors), debugger_train.json (the
resolved config, data hash, counts, versions, git SHA, losses), curves.jsonl and curves.png.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from .config import TrainConfig, make, save
from .dataset import Collator, data_hash, encode, records

Event = Callable[[str, dict], None]
CPU_TOKENS_PER_SECOND = 85.0  # LoRA r=8 on the 0.5B, bf16, 2 idle cores, as measured for the shipped adapter: the ETA
CPU_FP32_TOKENS_PER_SECOND = 48.0  # the same in fp32 on 2 AVX2 cores (AMD EPYC, no bf16 there): 6,919 tokens in ~145 s


def bf16_fast(cpuinfo: str | None = None) -> bool:
    """Whether this machine computes in bf16: a CUDA GPU, or a CPU with AMX or AVX512-BF16 (Linux's flags). On a CPU
    without them torch emulates bf16 matrix products, minutes an example on 2 cores, so training runs in fp32."""
    if _cuda():
        return True
    try:
        flags = (cpuinfo if cpuinfo is not None else Path("/proc/cpuinfo").read_text()).split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def use_bf16(cfg: TrainConfig) -> bool:
    return bf16_fast() if cfg.bf16 is None else cfg.bf16


def load_base(spec: str, bf16: bool, threads: int | None):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from debugger.engines.specs import prepare
    where = prepare(spec)
    if threads:
        torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(where, trust_remote_code=False, local_files_only=True)
    dtype = torch.bfloat16 if bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, use_safetensors=True, trust_remote_code=False,
                                                 local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok


def train(cfg: TrainConfig, on_event: Event | None = None) -> dict:
    """Train (or resume) and save the adapter; returns the summary written to debugger_train.json."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from debugger.provenance import provenance

    emit = on_event or (lambda name, payload: None)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    bf16 = use_bf16(cfg)
    model, tok = load_base(cfg.base, bf16, cfg.threads)
    train_recs = records(cfg.data, "train", cfg.max_examples)
    if not train_recs:
        raise ValueError(f"{cfg.data}: no records in the train split (run `debugger data split`)")
    train_ex, dropped = encode(train_recs, tok, window=cfg.context_lines, max_length=cfg.max_length)
    eval_ex, _ = encode(records(cfg.data, "valid", cfg.eval_examples), tok, window=cfg.context_lines,
                        max_length=cfg.max_length)
    if not train_ex:
        raise ValueError(f"every training example was longer than max_length={cfg.max_length} tokens")
    tokens = sum(len(e.input_ids) for e in train_ex)
    steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(
        len(train_ex) * cfg.epochs / (cfg.batch_size * cfg.grad_accum))
    seen_tokens = tokens * (cfg.epochs if cfg.max_steps <= 0 else steps * cfg.batch_size * cfg.grad_accum / len(train_ex))
    by_source = dict(sorted(Counter(e.source for e in train_ex).items()))
    emit("plan", {"examples": len(train_ex), "dropped": dropped, "by_source": by_source, "eval_examples": len(eval_ex),
                  "tokens": tokens, "steps": steps, "bf16": bf16,
                  "eta_seconds": seen_tokens / (CPU_TOKENS_PER_SECOND if bf16 else CPU_FP32_TOKENS_PER_SECOND)})

    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=cfg.lora.r, lora_alpha=cfg.lora.alpha,
                                             lora_dropout=cfg.lora.dropout, target_modules=cfg.lora.target_modules))
    as_rows = lambda exs: Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in exs])  # noqa: E731
    curves = out / "curves.jsonl"
    last_eval: dict = {}

    class Curves(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if "eval_loss" in (logs or {}):  # every process: each decides alike whether to evaluate again
                last_eval.update(step=state.global_step, eval_loss=logs["eval_loss"])
            if not state.is_world_process_zero:  # under `accelerate launch`, one process writes the curves
                return
            row = {"step": state.global_step, "epoch": state.epoch, "time": round(time.time() - t0, 1),
                   **{k: v for k, v in (logs or {}).items() if k in ("loss", "eval_loss", "learning_rate",
                                                                     "grad_norm")}}
            with curves.open("a") as f:
                f.write(json.dumps(row) + "\n")
            emit("log", row | {"max_steps": state.max_steps})

        def on_step_end(self, args, state, control, **kw):
            emit("step", {"step": state.global_step, "max_steps": state.max_steps})

    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, warmup_steps=max(1, round(cfg.warmup_ratio * steps)),
        lr_scheduler_type="cosine", logging_steps=cfg.logging_steps,
        eval_strategy="steps" if eval_ex else "no", eval_steps=cfg.eval_steps, save_steps=cfg.save_steps,
        save_total_limit=2, seed=cfg.seed, report_to=[], remove_unused_columns=False, dataloader_num_workers=0,
        disable_tqdm=True, use_cpu=not _cuda(), bf16=bf16 and _cuda())
    trainer = Trainer(model=model, args=args, train_dataset=as_rows(train_ex),
                      eval_dataset=as_rows(eval_ex) if eval_ex else None, data_collator=Collator(tok.pad_token_id),
                      callbacks=[Curves()])
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    for cb in (PrinterCallback, ProgressCallback):  # stdout stays ours (--json); progress is drawn by the CLI
        trainer.remove_callback(cb)
    resume = any((out / "checkpoints").glob("checkpoint-*"))
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    # the Trainer evaluates at the last step itself; a second pass would cost minutes on a CPU for the same figure
    done = last_eval.get("step") == trainer.state.global_step
    final_eval = {"eval_loss": last_eval["eval_loss"]} if done else trainer.evaluate() if eval_ex else {}
    summary = {"data_sha256": data_hash(cfg.data), "examples": len(train_ex), "examples_by_source": by_source,
               "dropped": dropped,
               "eval_examples": len(eval_ex), "tokens": tokens, "steps": trainer.state.global_step, "bf16": bf16,
               "resumed": resume, "train_loss": result.training_loss, "eval_loss": final_eval.get("eval_loss"),
               "seconds": round(time.time() - t0, 1),
               # `accelerate launch --num_processes N`: N processes trained one adapter (DDP: gradients averaged)
               "processes": args.world_size, "distributed": str(args.parallel_mode).rsplit(".", 1)[-1].lower(),
               "provenance": provenance()}
    if trainer.is_world_process_zero():
        model.save_pretrained(str(out))
        save(cfg, out / "debugger_train.json", **summary)
        plot(curves, out / "curves.png")
    return summary


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def plot(curves: Path, png: Path) -> None:
    """Training and evaluation loss, and the learning rate, against the step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [json.loads(ln) for ln in curves.read_text().splitlines() if ln.strip()] if curves.exists() else []
    fig, (ax, lr_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("loss", "train loss"), ("eval_loss", "eval loss")):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            ax.plot(*zip(*pts), marker="o" if key == "eval_loss" else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (completion tokens)")
    ax.legend()
    pts = [(r["step"], r["learning_rate"]) for r in rows if "learning_rate" in r]
    if pts:
        lr_ax.plot(*zip(*pts))
    lr_ax.set_xlabel("step")
    lr_ax.set_ylabel("learning rate")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="LoRA fine-tuning on bug records (see training/train.py).")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--base")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--max-steps", type=int)
    ap.add_argument("--max-examples", type=int)
    ap.add_argument("--epochs", type=float)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                    help="compute in bf16 (default: where this machine computes it fast)")
    a = ap.parse_args(argv)
    cfg = make(a.data, a.out, a.preset, base=a.base, max_steps=a.max_steps, max_examples=a.max_examples,
               epochs=a.epochs, lr=a.lr, threads=a.threads, bf16=a.bf16)
    rank0 = os.environ.get("RANK", "0") == "0"
    say = (lambda name, p: print(json.dumps({"event": name, **p}), flush=True)) if rank0 else None
    summary = train(cfg, say)  # every process trains (under accelerate launch); the first one reports
    if rank0:
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
