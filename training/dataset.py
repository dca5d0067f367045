"""Bug records -> tokenized prompt-completion examples with the loss on the completion only.

Prompts come from `data.format.to_example`, i.e. from the prompt builder `debugger fix` uses, with the
adapter's window. Half the records (by id) get the hinted prompt, as the runtime's samples do; the other
half the plain infill its greedy pass sends. An example longer than `max_length` is dropped, never cut:
a truncated completion would teach the model to stop mid-statement.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from debugger.data.format import to_example
from debugger.data.schema import BugRecord, read_jsonl


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # -100 on the prompt
    source: str = ""  # the record's source (synthetic, history, ...): the summary counts what was kept of each


def data_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def records(path: str | Path, split: str, limit: int | None = None) -> list[BugRecord]:
    """The split's records in id order (stable across runs and machines), at most `limit`."""
    recs = sorted((r for r in read_jsonl(Path(path)) if r.split == split), key=lambda r: r.id)
    return recs[:limit] if limit else recs


def prompt_text(example: dict, tok) -> str:
    if "prompt" in example:
        return example["prompt"]
    from debugger.engines.hf import render_chat
    return render_chat(tok, example["messages"])


def encode(recs: list[BugRecord], tok, *, window: int | None, max_length: int) -> tuple[list[Encoded], int]:
    """(examples, how many were dropped as too long or unusable)."""
    out, dropped = [], 0
    for r in recs:
        ex = to_example(r, hinted=int(r.id, 16) % 2 == 1, window=window)
        if ex is None:
            dropped += 1
            continue
        p = tok(prompt_text(ex, tok), add_special_tokens=False).input_ids
        c = tok(ex["completion"], add_special_tokens=False).input_ids
        if len(p) + len(c) > max_length or not c:
            dropped += 1
            continue
        out.append(Encoded(p + c, [-100] * len(p) + c, r.source))
    return out, dropped


class Collator:
    """Right-pads a batch: pad id for inputs, -100 for labels, 0 in the attention mask."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        import torch
        n = max(len(b["input_ids"]) for b in batch)
        ids = [b["input_ids"] + [self.pad_id] * (n - len(b["input_ids"])) for b in batch]
        labels = [b["labels"] + [-100] * (n - len(b["labels"])) for b in batch]
        mask = [[1] * len(b["input_ids"]) + [0] * (n - len(b["input_ids"])) for b in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}
