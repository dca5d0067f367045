"""The llama.cpp engine against the transformers reference: a tiny Qwen2 written both as safetensors and as
GGUF, the shipped adapter converted to a GGUF LoRA, engine choice, and (slow) the real default model."""
import json

import pytest

from debugger import engines
from debugger.engines.packs import PackError

pytest.importorskip("xllamacpp")

SPECIAL = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|im_start|>",
           "<|im_end|>", "<|file_sep|>", "<|repo_name|>"]


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-character table, in byte order: the vocabulary of a byte-level BPE with no merges."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    table, n = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return [table[b] for b in range(256)]


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """(safetensors dir, .gguf file) of one random 2-layer Qwen2: the same tensors, the same byte-level
    tokenizer (llama.cpp reads BPE vocabularies, not the word-level one of the training tests' tiny model).
    Weights drawn wide so that greedy choices are far apart, not ties decided by rounding."""
    import gguf
    import numpy as np
    import torch
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    chars = _byte_chars() + ["ĠĠ"]  # one merge (two spaces): llama.cpp wants a merge list
    vocab = {c: i for i, c in enumerate(chars + SPECIAL)}
    t = Tokenizer(BPE(vocab, merges=[("Ġ", "Ġ")]))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    t.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=t, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                  additional_special_tokens=SPECIAL[1:])
    where = tmp_path_factory.mktemp("tiny-pair")
    hf = where / "hf"
    tok.save_pretrained(hf)
    cfg = Qwen2Config(vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-6)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.25)
    model.save_pretrained(hf, safe_serialization=True)

    path = where / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_context_length(1024)
    w.add_embedding_length(64)
    w.add_block_count(2)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")  # GPT-2's split, as ByteLevel(use_regex=True)
    w.add_token_list(chars + SPECIAL)
    w.add_token_types([gguf.TokenType.NORMAL] * len(chars) + [gguf.TokenType.CONTROL] * len(SPECIAL))
    w.add_token_merges(["Ġ Ġ"])
    w.add_eos_token_id(vocab["<|endoftext|>"])
    w.add_pad_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, 2)
    for name, tensor in model.state_dict().items():
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new, name
        w.add_tensor(new, tensor.float().numpy().astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return hf, path


def _infill_prompts():
    from debugger import prompts
    text = "def add(a, b):\n    total = a - b\n    return total\n\n\ndef keep(x):\n    return x\n"
    return [prompts.infill(text, line, line) for line in (2, 3, 7)]


def test_both_engines_greedy_infill_the_same_text(tiny_pair):
    from debugger.engines.hf import HFGenerator
    from debugger.engines.llama import LlamaGenerator
    hf, gguf_path = tiny_pair
    ref, fast = HFGenerator(str(hf), threads=1), LlamaGenerator(str(gguf_path), threads=1)
    assert fast.engine == "llama" and ref.engine == "transformers"
    for p in _infill_prompts():
        p.max_new_tokens = 12
        a, b = ref.complete(p, 0, 0.7)[0], fast.complete(p, 0, 0.7)[0]
        assert (a.text, a.greedy) == (b.text, b.greedy), p.original


def test_samples_are_seeded_from_the_prompt(tiny_pair):
    from debugger.engines.llama import LlamaGenerator
    gen = LlamaGenerator(str(tiny_pair[1]), threads=1)
    p = _infill_prompts()[0]
    p.max_new_tokens = 8
    first, again = gen.complete(p, 3, 1.0), gen.complete(p, 3, 1.0)
    assert [c.greedy for c in first] == [True, False, False, False]
    assert [c.text for c in first] == [c.text for c in again]
    assert all(0 < c.tokens <= 8 for c in first)


def test_a_server_dropped_as_soon_as_it_is_made_is_stopped(tiny_pair):
    """xllamacpp's Server returns before its loop runs, and dropping it in that window hung the process (one
    in ~10 here: CI timed out in this file); the generator waits for the loop, so 40 in a row all end. In a
    child process, so that a hang fails this test instead of the run."""
    import subprocess
    import sys
    code = ("import sys\nfrom debugger.engines.llama import LlamaGenerator\n"
            "for _ in range(40):\n    LlamaGenerator(sys.argv[1], threads=1)\nprint('ended')")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(tiny_pair[1])], capture_output=True, text=True,
                             timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("a llama.cpp server dropped right after it was made never stopped")
    assert out.returncode == 0 and out.stdout.strip() == "ended", out.stderr[-2000:]


def test_deadline_in_the_past_stops_decoding_at_once(tiny_pair):
    import time

    from debugger.engines.llama import LlamaGenerator
    gen = LlamaGenerator(str(tiny_pair[1]), threads=1)
    p = _infill_prompts()[1]
    p.max_new_tokens = 200
    (c,) = gen.complete(p, 0, 0.7, deadline=time.monotonic() - 1)
    assert c.tokens <= 2


def test_a_deadline_stops_a_prompt_during_prefill_and_cached_prompt_tokens_are_counted(tiny_pair):
    """Prefill goes in batches that each report progress, so a deadline stops a long prompt before it is
    read through (a 1.5B window takes 10-40 s to prefill on 2 cores), and a prompt estimated not to be read by
    the deadline is not sent at all; a prompt that begins like the last one is read from the prompt cache (its
    estimated lead counts only the rest), and the engine counts both."""
    import time

    from debugger import prompts
    from debugger.engines.llama import CHARS_PER_TOKEN, PREFILL_BATCH, LlamaGenerator
    gen = LlamaGenerator(str(tiny_pair[1]), threads=1)
    text = "".join(f"v{i} = {i}\n" for i in range(110))  # ~800 tokens of one byte each
    p, q = prompts.infill(text, 60, 60), prompts.infill(text, 70, 70)
    p.max_new_tokens = q.max_new_tokens = 4
    (c,) = gen.complete(p, 0, 0.7, deadline=time.monotonic() - 1)
    assert c.tokens == 0 and gen.prefilled + gen.reused == 0  # not sent: it would not be read by the deadline
    assert gen.lead(p) > 0
    gen.prefill_rate = float("inf")  # estimated as read at once: sent, and stopped by the progress it reports
    (c,) = gen.complete(p, 0, 0.7, deadline=time.monotonic() + 1e-4)
    assert c.tokens == 0 and gen.prefilled < 2 * PREFILL_BATCH  # stopped before its prompt was read through
    before, cached = gen.prefilled, gen.reused
    gen.complete(p, 0, 0.7)
    assert gen.prefilled + gen.reused - before - cached > 6 * PREFILL_BATCH  # p whole, its stopped start cached
    before, cached = gen.prefilled, gen.reused
    assert gen.prefill_rate < float("inf")  # measured from p's progress
    rate = gen.prefill_rate
    gen.complete(p, 0, 0.7)  # read from the cache but a token: not a measure of reading speed
    assert gen.prefill_rate == rate
    assert gen.lead(p) == 0 and 0 < gen.lead(q) < (len(q.text) / CHARS_PER_TOKEN + PREFILL_BATCH) / gen.prefill_rate
    gen.complete(q, 0, 0.7)  # shares lines 1-59 with p
    assert gen.reused - cached >= len("".join(text.splitlines(keepends=True)[:59]))
    assert gen.prefilled - before < 0.5 * (gen.prefilled + gen.reused - before - cached)
    # a hinted prompt with the failure below the code extends its plain prompt: only its comment is read
    short = "".join(f"v{i} = {i}\n" for i in range(50))
    p = prompts.infill(short, 30, 30)
    h = prompts.infill(short, 30, 30, "- t::test\n  assert v30 == 31", below=True)
    above = prompts.infill(short, 30, 30, "- t::test\n  assert v30 == 31")
    p.max_new_tokens = h.max_new_tokens = 4
    gen.complete(p, 0, 0.7)
    unread = len(h.tail + "<|fim_middle|>")
    assert 0 < gen.lead(h) <= (unread / CHARS_PER_TOKEN + PREFILL_BATCH) / gen.prefill_rate < gen.lead(above)
    before, cached = gen.prefilled, gen.reused
    gen.complete(h, 0, 0.7)
    fim = 3 * len("<|fim_middle|>")  # a byte a token, but the three FIM tokens
    assert gen.prefilled - before <= unread and gen.reused - cached >= len(p.text) - fim
    # a prompt longer than the model's context (1,024 tokens here) is answered by nothing, not by an error
    (c,) = gen.complete(prompts.infill(short * 30, 30, 30), 0, 0.7)
    assert (c.text, c.tokens) == ("", 0)


def test_peft_adapter_converts_to_a_gguf_lora_the_engine_loads(tiny_pair, tmp_path, monkeypatch):
    """The adapter's delta reaches the llama.cpp engine: with B scaled up, its greedy text changes; the
    file holds A and B per adapted weight under the base's GGUF names, and alpha."""
    import gguf
    import numpy as np
    from safetensors.numpy import save_file

    from debugger.engines import gguf_lora
    from debugger.engines.llama import LlamaGenerator
    monkeypatch.setenv("DEBUGGER_HOME", str(tmp_path / "home"))
    hf, gguf_path = tiny_pair
    rng = np.random.default_rng(0)
    tensors = {}
    for i in range(2):
        for m, (out_dim, in_dim) in {"q_proj": (64, 64), "v_proj": (32, 64)}.items():
            key = f"base_model.model.model.layers.{i}.self_attn.{m}"
            tensors[f"{key}.lora_A.weight"] = rng.normal(0, 1, (4, in_dim)).astype(np.float32)
            tensors[f"{key}.lora_B.weight"] = rng.normal(0, 1, (out_dim, 4)).astype(np.float32)
    ad = tmp_path / "adapter"
    ad.mkdir()
    save_file(tensors, str(ad / "adapter_model.safetensors"))
    (ad / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "lora_alpha": 8,
                                                        "target_modules": ["q_proj", "v_proj"]}))
    assert gguf_lora.gguf_architecture(gguf_path) == "qwen2"
    out = gguf_lora.cached(ad, gguf_path)
    r = gguf.GGUFReader(str(out))
    names = {t.name: tuple(int(x) for x in t.shape) for t in r.tensors}
    assert names["blk.1.attn_q.weight.lora_a"] == (64, 4) and names["blk.1.attn_v.weight.lora_b"] == (4, 32)
    assert len(names) == 8 and float(r.fields["adapter.lora.alpha"].parts[-1][0]) == 8.0
    assert gguf_lora.cached(ad, gguf_path) == out  # converted once
    p = _infill_prompts()[0]
    p.max_new_tokens = 10
    base = LlamaGenerator(str(gguf_path), threads=1).complete(p, 0, 0.7)[0].text
    with_lora = LlamaGenerator(str(gguf_path), str(ad), threads=1)
    assert with_lora.name.endswith(f"LoRA {ad}")
    assert with_lora.complete(p, 0, 0.7)[0].text != base


def test_non_plain_adapters_are_refused_for_the_llama_engine(tiny_pair, tmp_path):
    from debugger.engines import gguf_lora
    from debugger.engines.lora import AdapterError
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "use_dora": True, "r": 4,
                                                              "lora_alpha": 8}))
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(AdapterError, match="plain LoRA"):
        gguf_lora.convert(tmp_path, "qwen2", tmp_path / "out.gguf")


def test_engine_choice(tmp_path, monkeypatch):
    def pick(engine, spec):
        return engines.pick(engine, spec).name
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert pick("auto", "qwen2.5-coder-0.5b") == "llama"
    assert pick("transformers", "qwen2.5-coder-0.5b") == "transformers"
    assert pick("auto", str(f)) == "llama"
    assert pick("auto", str(tmp_path)) == "transformers"  # a model directory
    assert pick("llama", "fake:x.py") == "fake"
    with pytest.raises(PackError, match="llama engine does not run .* use --engine transformers"):
        pick("llama", str(tmp_path))
    with pytest.raises(PackError, match="transformers engine does not run .* use --engine llama"):
        pick("transformers", str(f))
    with pytest.raises(PackError, match="unknown engine"):
        pick("vllm", "qwen2.5-coder-0.5b")
    monkeypatch.setattr(engines, "llama_available", lambda: False)
    assert pick("auto", "qwen2.5-coder-0.5b") == "transformers"
    with pytest.raises(PackError, match="pip install xllamacpp"):
        pick("llama", "qwen2.5-coder-0.5b")
    # what each can do, which the stages ask instead of names
    assert engines.ENGINES["transformers"].scores and engines.ENGINES["llama"].scored_beside
    assert not any(e.scores or e.scored_beside for e in (engines.ENGINES["fake"], engines.ENGINES["openai"]))


def test_model_info_names_the_engine(cli):
    code, out, err, info = cli("model", "info", "--json")
    assert info["engine"] == "llama" and info["model"] == "qwen2.5-coder-1.5b", (out, err)
    assert info["scorer"] == "qwen2.5-coder-0.5b"  # the pack whose transformers copy reads surprisal beside it
    assert "AVX2" in info["engine_build"].split()  # what llama.cpp was compiled for (the wheel: AVX2)
    code, out, err, info = cli("model", "info", "--engine", "transformers", "--json")
    assert info["engine"] == "transformers" and info["engine_build"] is None
    code, out, err, info = cli("model", "info", "--engine", "bogus", "--json")
    assert code == 2 and "unknown engine" in info["error"]


@pytest.mark.slow
def test_default_model_on_llama_with_the_shipped_adapter_matches_transformers_greedy():
    """Greedy infills of the shipped adapter on both engines, on every example's bug span. The weights are
    the same numbers (transformers runs the GGUF's Q5_0 tensors de-quantized to fp32; llama.cpp multiplies
    them quantized, with activations rounded to 8 bits), so a near-tie can go the other way: most must
    agree, and every disagreement is printed."""
    from debugger.data.corpus import example_bugs
    from debugger import prompts
    from debugger.config import adapter_context_lines, shipped_adapter
    from debugger.engines.hf import HFGenerator
    from debugger.engines.llama import LlamaGenerator
    ad = shipped_adapter("qwen2.5-coder-0.5b")
    window = adapter_context_lines(ad)
    ref, fast = HFGenerator("qwen2.5-coder-0.5b", ad), LlamaGenerator("qwen2.5-coder-0.5b", ad)
    same, rows = 0, []
    for path, meta in example_bugs():
        text = (path / meta["file"]).read_text()
        lo, hi = meta["fix_lines"]
        p = prompts.infill(text, lo, max(lo, hi), window=window)
        a, b = ref.complete(p, 0, 0.7)[0].text, fast.complete(p, 0, 0.7)[0].text
        same += a == b
        rows.append((path.name, a == b, a, b))
    for name, ok, a, b in rows:
        print(f"{name:<18} {'same' if ok else 'DIFFERENT'}\n  transformers: {a!r}\n  llama:        {b!r}")
    assert same >= len(rows) - 2, rows


def test_bench_engine_times_both_engines_alike(tiny_pair, tmp_path):
    """eval/bench_engine.py's cell on the tiny pair: the same prompt reaches both engines as the same number
    of tokens, and each figure comes from a measured run (first prefill, warm prefill, decode by difference)."""
    from debugger.eval.bench_engine import cell
    hf, gguf_path = tiny_pair
    rows = [cell(str(gguf_path), "llama", 1, 32), cell(str(hf), "transformers", 1, 32)]  # enough to outlast the noise
    assert rows[0]["prompt_tokens"] == rows[1]["prompt_tokens"] > 100
    for r in rows:
        assert r["decoded"] == 32 and r["load_s"] > 0 and r["peak_rss_mb"] > 0
        assert 0 < r["prefill_first_tok_s"] and 0 < r["prefill_tok_s"] and 0 < r["decode_tok_s"] < 1e6, r
    assert rows[0]["build"] in ("AVX2", "AVX-512") and rows[1]["build"] == ""  # what llama.cpp was compiled for
    from debugger.eval.bench_engine import report
    report([r | {"busy": False} for r in rows], tmp_path)
    table = (tmp_path / "report.md").read_text()
    assert f"| llama ({rows[0]['build']}) | none | 1 | idle |" in table and "| transformers | none | 1 | idle |" in table
    assert f"{rows[1]['prefill_first_tok_s']} / {rows[1]['prefill_tok_s']}" in table
    assert (tmp_path / "engine.png").stat().st_size > 0


def test_bench_engine_times_a_rewrite_with_ngram_drafts(tiny_pair, monkeypatch):
    """The speculative cell: a rewrite (chat) prompt on llama.cpp with n-gram drafts decodes the same fixed
    number of tokens, and says what share of drafted tokens the model kept (None where nothing was drafted).
    (A short chat: the tiny model's byte-level tokens would make the bench's 90-line function too long.)"""
    from debugger.eval import bench_engine
    chat = [{"role": "user", "content": "Fix it:\n```python\ndef f(x):\n    return x + 1\n```"}]
    monkeypatch.setattr(bench_engine, "prompt_text", lambda kind: chat)
    row = bench_engine.cell(str(tiny_pair[1]), "llama", 1, 16, "rewrite", "ngram")
    assert row["draft"] == "ngram" and row["decoded"] == 16 and row["prompt_tokens"] > 50
    assert row["accepted"] is None or 0 <= row["accepted"] <= 1


def test_a_larger_pack_is_read_for_localization_by_the_pack_the_weights_were_fitted_on(monkeypatch):
    from debugger import engines
    from debugger.config import FixConfig, shipped_adapter
    small = FixConfig(model="qwen2.5-coder-0.5b", adapter=shipped_adapter("qwen2.5-coder-0.5b"))
    assert engines.scorer_settings(small) is small  # the default pack reads for itself
    big = FixConfig(model="qwen2.5-coder-1.5b", adapter=None, threads=3)
    read = engines.scorer_settings(big)
    assert (read.model, read.adapter, read.threads) == ("qwen2.5-coder-0.5b", shipped_adapter("qwen2.5-coder-0.5b"), 3)
    assert read.adapter and big.model == "qwen2.5-coder-1.5b"  # the repair's own settings are left as they were
    other = FixConfig(model="/some/model/dir", adapter=None)
    assert engines.scorer_settings(other) is other  # not a pack: its own weights, as before
    loaded = []
    monkeypatch.setattr(engines, "_transformers", lambda cfg, on_event: loaded.append((cfg.model, cfg.adapter)) or "s")
    assert engines.make_scorer(big, engines.ENGINES["llama"], lambda: None, lambda e: None) == "s"
    assert loaded == [("qwen2.5-coder-0.5b", shipped_adapter("qwen2.5-coder-0.5b"))]


def test_a_model_run_here_without_an_adapters_window_is_shown_40_lines_an_endpoint_the_file(tmp_path):
    from debugger.config import UNADAPTED_WINDOW, adapter_context_lines, resolve, shipped_adapter
    small = resolve(tmp_path, {"model": "qwen2.5-coder-0.5b"})
    assert small.context_lines == adapter_context_lines(shipped_adapter("qwen2.5-coder-0.5b")) == 24
    assert resolve(tmp_path, {}).context_lines == UNADAPTED_WINDOW == 40  # the default 1.5B: no adapter
    assert resolve(tmp_path, {"model": "qwen2.5-coder-0.5b", "adapter": "none"}).context_lines == 40
    assert resolve(tmp_path, {"adapter": "none", "context_lines": 7}).context_lines == 7  # said: kept
    assert resolve(tmp_path, {"model": f"fake:{tmp_path}/f.py"}).context_lines is None


def test_a_model_of_the_same_vocabulary_drafts_and_the_greedy_text_is_unchanged(tiny_pair):
    """draft="model:NAME": a smaller model proposes tokens the model checks in one batch (the 0.5B for the
    1.5B: they share a tokenizer). Here the tiny model drafts for itself: every drafted token is kept, and the
    greedy text is the one decoded without drafts."""
    from debugger.engines.llama import LlamaGenerator
    gguf_path = str(tiny_pair[1])
    plain, drafted = LlamaGenerator(gguf_path, threads=1), LlamaGenerator(gguf_path, threads=1, draft=f"model:{gguf_path}")
    for p in _infill_prompts():
        p.max_new_tokens = 24
        assert plain.complete(p, 0, 0.7)[0].text == drafted.complete(p, 0, 0.7)[0].text, p.original
    assert drafted.drafted > 0 and drafted.accepted == drafted.drafted
    with pytest.raises(ValueError):
        LlamaGenerator(gguf_path, threads=1, draft="eagle")
