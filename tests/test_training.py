"""LoRA training end to end on a tiny random model: adapter files, curves, provenance, resume, loading."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.schema import BugRecord, span_between, write_jsonl
from training.config import make

SPECIAL = ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _records() -> list[BugRecord]:
    recs = []
    for i, (bad, good) in enumerate([("a - b", "a + b"), ("a * b", "a + b"), ("b - a", "a + b"), ("a / b", "a + b")]):
        buggy = f"def add{i}(a, b):\n    return {bad}\n\n\ndef keep(x):\n    return x\n"
        fixed = buggy.replace(bad, good)
        s, e, span = span_between(buggy, fixed)
        recs.append(BugRecord("toy", f"m{i}.py", buggy, fixed, s, e, span, ["t.py::test_add"],
                              "assert -1 == 5", "pytest", "arithmetic_swap", split="valid" if i == 3 else "train"))
    return recs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A 2-layer Qwen2 with random weights and a word-level tokenizer that knows the FIM tokens."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Split
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    words = sorted({w for r in _records() for w in (r.buggy + r.fixed + r.failure).replace("\n", " \n ").split(" ")})
    vocab = {w: i for i, w in enumerate(dict.fromkeys(["<unk>", *SPECIAL, *words, "\n", " ", "#", ":"]))}
    t = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    t.pre_tokenizer = Split(" ", "isolated")
    tok = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<unk>", eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>", additional_special_tokens=SPECIAL)
    where = tmp_path_factory.mktemp("tiny-model")
    tok.save_pretrained(where)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    Qwen2ForCausalLM(cfg).save_pretrained(where, safe_serialization=True)
    return where


def test_training_writes_adapter_curves_and_provenance_then_resumes(tiny, tmp_path, cli):
    from training.train import train
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())
    out = tmp_path / "adapter"
    events = []
    cfg = make(str(data), str(out), "cpu", base=str(tiny), max_steps=2, logging_steps=1, eval_steps=1,
               save_steps=1, grad_accum=1, bf16=False)
    summary = train(cfg, lambda name, p: events.append(name))
    assert {"adapter_config.json", "adapter_model.safetensors", "debugger_train.json", "curves.jsonl",
            "curves.png"} <= {p.name for p in out.iterdir()}
    meta = json.loads((out / "debugger_train.json").read_text())
    assert meta["config"]["context_lines"] == 24 and len(meta["data_sha256"]) == 64
    assert meta["provenance"]["versions"]["peft"] and meta["examples"] == 3 and meta["eval_examples"] == 1
    rows = [json.loads(ln) for ln in (out / "curves.jsonl").read_text().splitlines()]
    assert any("loss" in r for r in rows) and any("eval_loss" in r for r in rows)
    assert "plan" in events and summary["steps"] == 2 and not summary["resumed"]

    code, stdout, stderr, _ = cli("train", "--data", str(data), "--out", str(out), "--base", str(tiny),
                                  "--max-steps", "3", "--json", timeout=600)
    assert code == 0, stderr
    again = json.loads(stdout.strip().splitlines()[-1])
    assert again["resumed"] and again["steps"] == 3


def test_adapter_loads_into_the_generator_and_sets_the_window(tiny, tmp_path):
    from repair.config import resolve
    from repair.hf_generator import HFGenerator
    from repair.prompts import infill
    from training.train import train
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())
    out = tmp_path / "adapter"
    train(make(str(data), str(out), "cpu", base=str(tiny), max_steps=1, bf16=False, grad_accum=1))
    gen = HFGenerator(str(tiny), str(out), threads=1)
    buggy = _records()[0].buggy
    completions = gen.complete(infill(buggy, 2, 2, window=24), samples=0, temperature=0.7)
    assert len(completions) == 1 and completions[0].greedy
    cfg = resolve(tmp_path, {"adapter": str(out)})
    assert cfg.context_lines == 24


def test_presets_and_bad_settings():
    assert make("d", "o", "gpu").batch_size == 8 and make("d", "o", "gpu").lora.r == 16
    assert make("d", "o", "cpu", lr=1e-3).lr == 1e-3
    with pytest.raises(ValueError, match="unknown preset"):
        make("d", "o", "tpu")
