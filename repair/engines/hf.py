"""The reference backend: a transformers causal LM on CPU (fp32) or GPU (bf16).

The prompt is prefilled once; the greedy pass and the batch of samples both start from copies of
that cache, since `num_return_sequences` would recompute the prompt once per sample.
"""
from __future__ import annotations

import copy
import dataclasses
import time
import zlib

from ..prompts import Prompt, fim_text, refuse_infill

STOP_TOKENS = ("<|endoftext|>", "<|im_end|>")  # and the model family's end-of-middle tokens


class HFGenerator:
    engine = "transformers"

    def __init__(self, spec: str, adapter: str | None = None, threads: int | None = None, progress=None):
        from ..config import model_label
        from .specs import load_hf

        t0 = time.time()
        self.model, self.tok = load_hf(spec, threads=threads, progress=progress)
        if adapter:
            from .lora import merge
            if not merge(self.model, adapter):  # plain LoRA is folded in without importing peft (~10 s)
                from peft import PeftModel
                self.model = PeftModel.from_pretrained(self.model, adapter).merge_and_unload()
        self.name = model_label(spec, adapter)
        self.load_seconds = time.time() - t0
        from ..prompts import fim_for_vocab
        self.fim = fim_for_vocab(self.tok.get_vocab())
        ids = [self.tok.convert_tokens_to_ids(t) for t in STOP_TOKENS + (self.fim.stops if self.fim else ())]
        self.stop_ids = [i for i in ids if isinstance(i, int) and i >= 0 and i != self.tok.unk_token_id]

    # -- prompts -------------------------------------------------------------------------------
    def _ids(self, prompt: Prompt):
        if prompt.kind == "infill":
            text = fim_text(prompt, self.fim) if self.fim else refuse_infill(self.name)
        else:
            text = render_chat(self.tok, prompt.messages)
        return self.tok(text, return_tensors="pt").input_ids.to(self.model.device)

    def complete(self, prompt: Prompt, samples: int, temperature: float, greedy: bool = True,
                 deadline: float | None = None):
        """`deadline` (time.monotonic()) ends decoding early: the repair budget binds generation too."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        from ..edits import infill_done
        from ..generate import Completion

        ids = self._ids(prompt)
        tok, stop_ids = self.tok, set(self.stop_ids)
        plen = ids.shape[1]

        class Enough(StoppingCriteria):
            """Stop a sequence once it holds all the lines an infill may keep, or closes its fence."""

            def __call__(self, input_ids, scores, **kw):
                if deadline is not None and time.monotonic() > deadline:
                    return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                done = []
                for row in input_ids:
                    new = tok.decode(row[plen:], skip_special_tokens=False)
                    if prompt.kind == "infill":
                        done.append(infill_done(new, prompt))
                    else:
                        done.append(new.count("```") >= 2)
                return torch.tensor(done, device=input_ids.device)

        out: list[Completion] = []
        with torch.inference_mode():
            cache, kw = None, "past_key_values"
            if plen > 1:
                pre = self.model(ids[:, :-1], use_cache=True)
                # transformers 5.x names it `cache` (and warns at the old name, which 6.0 drops); 4.x does not
                kw = "cache" if "cache" in {f.name for f in dataclasses.fields(pre)} else kw
                cache = getattr(pre, kw)
            common = dict(max_new_tokens=prompt.max_new_tokens, eos_token_id=list(stop_ids),
                          pad_token_id=self.tok.pad_token_id or self.stop_ids[0],
                          stopping_criteria=StoppingCriteriaList([Enough()]))
            if greedy:
                g = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                        **({kw: copy.deepcopy(cache)} if cache is not None else {}), **common)
                out.append(self._completion(g[0], plen, True))
            if samples > 0:
                # Seeded from the prompt: the same bug gets the same samples, run after run.
                key = prompt.key.encode()
                torch.manual_seed(zlib.crc32(key) + int(temperature * 100))
                if cache is not None:
                    cache.batch_repeat_interleave(samples)
                batch = ids.repeat(samples, 1)
                s = self.model.generate(batch, attention_mask=torch.ones_like(batch), do_sample=True,
                                        temperature=temperature, top_p=0.95,
                                        **({kw: cache} if cache is not None else {}), **common)
                out.extend(self._completion(row, plen, False) for row in s)
        return out

    def _completion(self, row, plen: int, greedy: bool):
        from ..generate import Completion

        new = row[plen:].tolist()
        n = 0
        for t in new:
            n += 1
            if t in self.stop_ids:
                break
        return Completion(self.tok.decode(new[:n], skip_special_tokens=False), n, greedy)

    # -- localization signal -------------------------------------------------------------------
    def line_surprisal(self, text: str, lines: tuple[int, int] | list[tuple[int, int]] | None = None,
                       max_tokens: int = 1024, tokens: bool = False) -> dict | None:
        """Mean token negative log-likelihood per line of `text`, from one forward pass, for the lines of
        `lines`: a 1-based inclusive range, or ranges most important first (a forward pass costs its
        length, and only suspects need scoring). A causal model scores a line from what precedes it, so
        the excerpt is the file's top down to the last range when that fits in `max_tokens`; otherwise
        as many ranges as fit, in priority order, read in file order. None when none fits.
        `tokens`: every token's NLL per line instead of their mean."""
        import bisect

        import torch

        all_lines = text.splitlines(keepends=True)
        ranges = [lines] if isinstance(lines, tuple) else list(lines or [(1, len(all_lines))])
        if not ranges:
            return None
        count = lambda t: len(self.tok(t).input_ids)  # noqa: E731
        last = max(hi for _, hi in ranges)
        if count("".join(all_lines[:last])) <= max_tokens:
            chosen = [(1, last)]
        else:
            chosen, used = [], 0
            for lo, hi in ranges:
                n = count("".join(all_lines[lo - 1:hi]))
                if used + n <= max_tokens:
                    chosen.append((lo, hi))
                    used += n
            if not chosen:
                return None
            chosen.sort()
        line_no = [ln for lo, hi in chosen for ln in range(lo, min(hi, len(all_lines)) + 1)]
        excerpt = "".join(all_lines[ln - 1] for ln in line_no)
        enc = self.tok(excerpt, return_offsets_mapping=True, return_tensors="pt")
        ids, offsets = enc.input_ids, enc.offset_mapping[0].tolist()
        if ids.shape[1] < 2 or ids.shape[1] > max_tokens:
            return None
        with torch.inference_mode():
            logits = self.model(ids.to(self.model.device)).logits[0, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:].to(logits.device), reduction="none").tolist()
        starts = [0]
        for i, ch in enumerate(excerpt):
            if ch == "\n":
                starts.append(i + 1)
        per: dict[int, list[float]] = {}
        for (a, _b), v in zip(offsets[1:], nll):
            per.setdefault(bisect.bisect_right(starts, a), []).append(v)
        wanted = {ln for lo, hi in ranges for ln in range(lo, hi + 1)}
        out = {}
        for i, v in per.items():
            ln = line_no[i - 1] if i <= len(line_no) else None
            if ln in wanted and all_lines[ln - 1].strip():
                out[ln] = [round(x, 3) for x in v] if tokens else sum(v) / len(v)
        return out


    def infill_nll(self, pieces: list[tuple[str, str, str]]) -> list[list[tuple[float, float]]]:
        """For each (prefix, middle, suffix): the middle scored as the fill-in-the-middle answer between the
        other two, one (NLL, NLL of the model's own top token) pair per token of the middle. A line the model
        would not have written there is a suspect. One short forward pass per piece: on a CPU a padded batch
        of windows of unequal length costs more than the windows one by one."""
        import torch

        from ..prompts import QWEN

        out = []
        for prefix, middle, suffix in pieces:
            fim = self.fim or QWEN  # a model without FIM tokens still scores the text as written
            head = self.tok(fim.prefix + prefix + fim.suffix + suffix + fim.middle).input_ids
            mid = self.tok(middle).input_ids
            ids = torch.tensor([head + mid], device=self.model.device)
            with torch.inference_mode():
                logits = self.model(ids).logits[0, len(head) - 1:-1].float()
            lp = torch.log_softmax(logits, -1)
            nll = -lp.gather(1, ids[0, len(head):, None])[:, 0]
            best = -lp.max(-1).values
            out.append([(round(a, 3), round(b, 3)) for a, b in zip(nll.tolist(), best.tolist())])
        return out


def render_chat(tok, messages: list[dict]) -> str:
    """The model's own chat template, rendered by transformers in jinja's sandbox: a template shipped
    with a model is code from a stranger, so one that reaches for Python internals is refused."""
    from jinja2.exceptions import SecurityError
    try:
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except SecurityError as e:
        raise ValueError(f"the model's chat template tried an unsafe operation and was refused ({e})") from None
