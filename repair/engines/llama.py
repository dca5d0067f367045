"""The default engine: llama.cpp's server engine in-process (xllamacpp), loading the GGUF as shipped.

On 2 CPU cores it decodes the 0.5B about 4x faster than transformers in fp32, and needs no conversion
step. One greedy request, then the samples as one request of `n` completions: the samples share the
greedy pass's cached prompt (llama.cpp copies the prompt's KV cache to each child slot), so the prompt is
prefilled once per prompt. Completions are streamed so that a request stops as soon as every completion
holds the lines an infill may keep, closes its code fence, or the work already begun would end past the repair
deadline, prefill included: prompts are prefilled in batches of PREFILL_BATCH tokens and each batch reports its
progress, so a prompt whose prefill would outlive the deadline stops a batch before it would (a 1.5B window of
~1,000 tokens takes 10-40 s to prefill on 2 cores; it used to run its course past the budget).

The engine also opens an HTTP listener on a loopback port; it is given a random API key that nobody is
told, so no other local process can use the model through it.

It reads no scores: llama.cpp's server returns log-probabilities of generated tokens only, not of prompt
tokens, so the localization reads (surprisal) come from a transformers scorer (see pipeline.make_scorer).
"""
from __future__ import annotations

import os
import secrets
import threading
import time
import zlib

from .gguf_header import read_header
from ..prompts import Prompt, fim_for_vocab, fim_text, refuse_infill

STOPS = ["<|endoftext|>", "<|im_end|>"]  # and the model family's end-of-middle tokens
END = "<|endoftext|>"  # appended when the model ended the text itself, as the transformers engine shows it


# n-gram speculative decoding (draft="ngram"): when the last NGRAM_N tokens occurred earlier in the context,
# the NGRAM_M tokens that followed them there are proposed and checked in one batch. A rewrite copies most of
# its function from the prompt, so most drafts are accepted. Short drafts: on a CPU a rejected draft costs its
# whole batch (48 tokens, llama.cpp's default, made infills and samples 2-3x slower here; 16 did not).
NGRAM_N, NGRAM_M = 8, 16
# Prompt tokens per batch, and so between two deadline checks during prefill: 128 tokens are ~1.3 s of the
# 1.5B's prefill on 2 cores, at the same rate as llama.cpp's 512 (98 vs 94 tokens/s measured here).
PREFILL_BATCH = 128


def default_threads() -> tuple[int, int]:
    """(decode, prefill) threads. Decoding takes one core less than there are: llama.cpp's threads meet at a
    barrier every layer, so one thread that shares its core with a test run stalls them all (measured here,
    0.5B on 2 cores: 16.4 tokens/s on 2 idle threads, 0.4 beside a test run, 8.5 on 1 thread either way).
    Prefill works in batches big enough that sharing a core slows it without that cliff, so it takes all."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1), cores


class LlamaGenerator:
    engine = "llama"

    def __init__(self, spec: str, adapter: str | None = None, threads: int | None = None, parallel: int = 4,
                 ctx: int = 32768, progress=None, listen: tuple[str, int] | None = None, api_key: str | None = None,
                 alias: str | None = None, draft: str = "none"):
        import xllamacpp as xlc

        from ..config import model_label
        from .specs import gguf_file
        from .packs import PackError
        t0 = time.time()
        path = gguf_file(spec, progress)
        p = xlc.CommonParams()
        p.model.path = str(path)
        p.n_ctx = ctx
        p.n_parallel = max(1, parallel)
        p.n_batch = p.n_ubatch = PREFILL_BATCH
        p.kv_unified = True  # every slot can hold a whole-file prompt; children share the parent's cache
        decode, prefill = (threads, threads) if threads else default_threads()
        p.cpuparams.n_threads = decode
        p.cpuparams_batch.n_threads = prefill
        p.api_keys = [api_key or secrets.token_hex(16)]
        if listen:  # `debugger model serve`: the OpenAI-compatible routes on this address, under this name
            p.hostnames, p.port = [listen[0]], listen[1]
        if alias:
            p.model_alias = {alias}
        p.warmup = False
        p.verbosity = -1
        p.endpoint_metrics = True  # see the metrics call below
        if draft == "ngram":
            p.speculative.types = [xlc.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
            p.speculative.ngram_simple.size_n, p.speculative.ngram_simple.size_m = NGRAM_N, NGRAM_M
        elif draft.startswith("model:"):  # a smaller model of the same tokenizer drafts (the 0.5B for the 1.5B)
            p.speculative.types = [xlc.common_speculative_type.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]
            d = p.speculative.draft
            d.mparams.path = str(gguf_file(draft.removeprefix("model:"), progress))
            d.cpuparams.n_threads, d.cpuparams_batch.n_threads = decode, prefill
        elif draft != "none":
            raise ValueError(f"draft: ngram, none or model:NAME, not {draft!r}")
        if adapter:
            from .gguf_lora import cached
            p.lora_adapters = [xlc.CommonAdapterLoraInfo(str(cached(adapter, path)), 1.0)]
        try:
            self._server = xlc.Server(p)
        except RuntimeError as e:
            raise PackError(f"llama.cpp could not load {path} ({e})") from None
        # xllamacpp's Server returns before its loop has begun, and a server dropped then waits for that loop
        # forever (the loop's start undoes the stop); the metrics answer comes from the loop, so it has begun
        self._server.handle_metrics()
        self.threads, self.draft = decode, draft
        self.drafted = self.accepted = 0  # tokens the drafts (n-gram or model) proposed, and those the model kept
        self.prefilled = self.reused = 0  # prompt tokens prefilled, and those read from the prompt cache instead
        self.prefill_rate = 100.0  # prompt tokens/s, as last measured (the 1.5B's on 2 cores until then)
        self._sent = ""  # the text of the last prompt sent (see lead)
        self.name = model_label(spec, adapter)
        # the model family's FIM tokens, from the vocabulary in the file's header (~0.1 s for 152k tokens)
        self.fim = fim_for_vocab(read_header(path, {"tokenizer.ggml.tokens"}).get("tokenizer.ggml.tokens") or [])
        self.load_seconds = time.time() - t0
        self.address = self._server.listening_address

    def complete(self, prompt: Prompt, samples: int, temperature: float, greedy: bool = True,
                 deadline: float | None = None):
        """The greedy completion (if asked) followed by `samples` sampled ones, seeded from the prompt."""
        from ..generate import Completion

        out: list[Completion] = []
        if greedy:
            out += [Completion(t, n, True) for t, n in self._run(prompt, 1, 0.0, 0, deadline)]
        if samples > 0:
            key = prompt.key.encode()
            seed = (zlib.crc32(key) + int(temperature * 100)) & 0x7FFFFFFF
            out += [Completion(t, n, False) for t, n in self._run(prompt, samples, temperature, seed, deadline)]
        return out

    def lead(self, prompt: Prompt) -> float:
        """Seconds before `prompt`'s first token, as estimated before it is sent: its text beyond what it shares
        with the last prompt sent (the prompt cache holds that), at CHARS_PER_TOKEN and the last prefill rate,
        plus one batch: what a stop at the deadline leaves the server reading where the estimate fell short."""
        text = _plain(prompt)
        unread = (len(text) - len(os.path.commonprefix([self._sent, text]))) / CHARS_PER_TOKEN
        return (unread + PREFILL_BATCH) / self.prefill_rate if unread > 0 else 0.0

    def _run(self, prompt: Prompt, n: int, temperature: float, seed: int, deadline: float | None):
        from ..edits import infill_done

        if deadline is not None and time.monotonic() + self.lead(prompt) > deadline:
            return [("", 0)] * n  # its prompt would not be read by the deadline: the server is not asked
        self._sent = _plain(prompt)
        stops = list(dict.fromkeys(STOPS + list(self.fim.stops if self.fim else ())))
        body = {"max_tokens": prompt.max_new_tokens, "temperature": temperature, "stream": True,
                "cache_prompt": True, "stop": stops, "n_probs": 0,
                "return_progress": True}  # a chunk per prefill batch: the deadline is checked during prefill
        if temperature > 0:
            body.update(seed=seed, top_p=0.95, top_k=0, min_p=0.0, n=n)
        else:
            body.update(top_k=1)
        texts, tokens, ended = [""] * n, [0] * n, [False] * n
        done = [False] * n
        progress: dict = {}
        failed: list[dict] = []
        last = [time.monotonic()]  # when the last chunk came

        def finished(i: int) -> bool:
            if prompt.kind == "infill":
                return infill_done(texts[i], prompt)
            return texts[i].count("```") >= 2

        def on_chunk(chunk: dict) -> bool:
            """True stops the whole request."""
            for c in chunk.get("choices", []):
                i = c.get("index", 0)
                if i >= n:
                    continue
                piece = c.get("text") if "text" in c else (c.get("delta") or {}).get("content")
                if piece:
                    texts[i] += piece
                    tokens[i] += 1
                if c.get("finish_reason"):
                    done[i] = True
                    ended[i] = c["finish_reason"] == "stop"
                elif not done[i] and finished(i):
                    done[i] = True
            timings = chunk.get("timings") or {}
            if chunk.get("prompt_progress"):  # the last one says what was read, and what came from the cache
                progress.update(chunk["prompt_progress"])
                read, ms = progress.get("processed", 0) - progress.get("cache", 0), progress.get("time_ms", 0)
                if read >= PREFILL_BATCH and ms > 0:  # a whole batch: a few tokens' time is mostly the request's own
                    self.prefill_rate = read * 1000 / ms
            self.drafted += timings.get("draft_n", 0)
            self.accepted += timings.get("draft_n_accepted", 0)
            if "error" in chunk or (chunk.get("code") and not chunk.get("choices")):
                failed.append(chunk.get("error") if isinstance(chunk.get("error"), dict) else chunk)
                return True  # raised below: the server does not pass on what its callback raises
            if deadline is None or all(done):
                return all(done)
            # the server has begun the next batch (prefill: ~1.3 s of 128 tokens) when a chunk comes, and a stopped
            # request still finishes it: go on only if the batch after it would also end by the deadline, and
            # only while the prompt can be read by then (a prompt read in part yields nothing)
            now = time.monotonic()
            gap, last[0] = now - last[0], now
            unread = progress.get("total", 0) - progress.get("processed", 0) if chunk.get("prompt_progress") else 0
            return now + 2 * gap > deadline or (unread > 0 and now + unread / self.prefill_rate > deadline)

        with _LOCK:  # one request at a time: the slots are for one request's completions
            if prompt.kind == "infill":  # raw FIM text; rewrite and naive prompts are chats
                text = fim_text(prompt, self.fim) if self.fim else refuse_infill(self.name)
                self._server.handle_completions(dict(body, prompt=text), on_chunk)
            else:
                self._server.handle_chat_completions(dict(body, messages=prompt.messages), on_chunk)
        if failed and failed[0].get("type") == "exceed_context_size_error":
            return [("", 0)] * n  # a prompt longer than the context: nothing to complete, as for one cut short
        if failed:
            raise RuntimeError(f"llama.cpp engine: {failed[0].get('message') or failed[0]}")
        cached = progress.get("cache", 0)
        self.prefilled += max(0, progress.get("processed", cached) - cached)
        self.reused += cached
        return [(t + END if e else t, k) for t, k, e in zip(texts, tokens, ended)]


_LOCK = threading.Lock()
CHARS_PER_TOKEN = 4.0  # Python source in Qwen's tokenizer (4.4 measured on a click module): a guess on the safe side


def _plain(prompt: Prompt) -> str:
    """A prompt's text, for comparing prompts (a chat's messages joined: its template adds the same few tokens)."""
    return prompt.text if prompt.kind == "infill" else "\n".join(m.get("content", "") for m in prompt.messages)
