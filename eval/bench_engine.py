"""Engines side by side: load seconds, prefill and decode tokens/s, peak RSS, on the same prompt.

    python eval/bench_engine.py [--models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b] [--engines llama,transformers]
                                [--threads 1,2,auto] [--decode 64] [--prompt example|window|rewrite]
                                [--drafts none,ngram] [--out docs/eval-engine]

Every cell runs in a fresh process (its peak RSS is its own), idle and then with a test run beside it (the
bundled examples' suites in a loop, as `debugger fix` validates candidates between generations). The
prompt is an infill prompt of the largest bundled example, the kind `debugger fix` sends most, or a rewrite
of its longest function (the chat `debugger fix` sends). Decoding runs a fixed number of tokens (end of
text ignored) so that every cell decodes the same amount; `--drafts` adds llama.cpp's n-gram speculative
decoding (draft="ngram", as `debugger fix` ships it; or model:NAME, a smaller model drafting) beside none, with the
share of drafted tokens kept. A model may
be a pack name or a .gguf file (llama.cpp only: a requantized or natively built model's figures beside the
pack's). Writes results.json, report.md (with the commit) and engine.png to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


PROMPTS = {"example": "an infill prompt of the largest bundled example",
           "window": "an infill prompt of repair/pipeline.py line 200 with the shipped adapter's 24-line window "
                     "(the size `debugger fix` sends for a real project's file)",
           "rewrite": "a rewrite (chat) of repair/pipeline.py's `search` (~90 lines), with a failure: decoding copies "
                      "the function, as a rewrite's does until it reaches the fix"}


def prompt_text(kind: str = "example"):
    """The prompt's text (a chat's messages for `rewrite`)."""
    from debugger import prompts
    if kind == "window":
        return prompts.infill((REPO / "repair" / "pipeline.py").read_text(), 200, 200, window=24).text
    if kind == "rewrite":
        import ast
        text = (REPO / "repair" / "pipeline.py").read_text()
        f = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "search")
        return prompts.rewrite(text, f.lineno, f.end_lineno, f.name, "repair/pipeline.py",
                               "AssertionError: the tests fail").messages
    from debugger.data.corpus import example_bugs
    path, meta = max(example_bugs(), key=lambda pm: len((pm[0] / pm[1]["file"]).read_text()))
    text = (path / meta["file"]).read_text()
    lo, hi = meta["fix_lines"]
    return prompts.infill(text, lo, max(lo, hi)).text


def _draft_label(draft: str) -> str:
    """'ngram ', '0.5b-draft ' (model:qwen2.5-coder-0.5b) or '' (none), for the plot's labels."""
    if draft.startswith("model:"):
        return f"{Path(draft[6:]).name.split('-')[-1]}-draft "
    return "" if draft == "none" else f"{draft} "


def cell(model: str, engine: str, threads: int, decode: int, kind: str = "example", draft: str = "none") -> dict:
    """One measurement in this process: load; prefill the prompt twice (the first call pays for kernel
    set-up, which a repair pays once; a repair's later prompts run warm); then decode `decode` tokens.
    Both engines are timed alike, from outside: prefill = one forward pass over the prompt (1 token out),
    decode = (time to `decode`+1 tokens - time to 1 token) / `decode`, end of text ignored
    (on llama.cpp both with the prompt cached, so that a long prompt's prefill does not drown the decode).
    `threads` 0: the engine's own default (llama: decode on one core less than there are, prefill on all;
    torch: all cores), as `debugger fix` runs it.
    `model`: a pack name, or a .gguf file (llama only: a requantized or differently built model).
    `draft`: llama's speculative decoding (LlamaGenerator's `draft`); `accepted` is the share of drafted
    tokens the model kept over the decode runs."""
    from debugger.provenance import build_name, engine_build
    text = prompt_text(kind)
    t0 = time.perf_counter()
    if engine == "llama":
        from debugger.engines.llama import LlamaGenerator
        gen = LlamaGenerator(model, threads=threads or None, parallel=1, ctx=4096, draft=draft)
        load = time.perf_counter() - t0
        srv = gen._server  # the bench drives llama.cpp directly: the Generator seam has no fixed-length decode
        drafts = [0, 0]

        def run(n: int, cached: bool = False) -> tuple[float, int]:
            t = time.perf_counter()
            body = {"max_tokens": n, "temperature": 0, "ignore_eos": True, "cache_prompt": cached}
            r = (srv.handle_chat_completions(dict(body, messages=text)) if kind == "rewrite" else
                 srv.handle_completions(dict(body, prompt=text)))
            if n > 1:
                drafts[0] += r["timings"].get("draft_n", 0)
                drafts[1] += r["timings"].get("draft_n_accepted", 0)
            return time.perf_counter() - t, r["timings"]["prompt_n"]
    else:
        import torch

        from debugger.engines.hf import HFGenerator
        gen = HFGenerator(model, threads=threads or None)
        load = time.perf_counter() - t0
        drafts = [0, 0]
        if kind == "rewrite":
            text = gen.tok.apply_chat_template(text, tokenize=False, add_generation_prompt=True)
        ids = gen.tok(text, return_tensors="pt").input_ids

        def run(n: int, cached: bool = False) -> tuple[float, int]:
            t = time.perf_counter()
            with torch.inference_mode():
                gen.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n,
                                   min_new_tokens=n, pad_token_id=0)
            return time.perf_counter() - t, ids.shape[1]
    first, prompt_n = run(1)
    warm = min(run(1)[0] for _ in range(3))  # the least disturbed of three, both ways: a difference of two noisy
    # times is noise twice; llama.cpp keeps the prompt's cache for both (the decode alone is timed: a long
    # prompt's prefill would drown it), transformers has none to keep
    one = min(run(1, True)[0] for _ in range(3)) if engine == "llama" else warm
    longer = min(run(decode + 1, True)[0] for _ in range(3))
    return {"model": model, "engine": engine, "threads": threads, "load_s": round(load, 2),
            "prompt_tokens": prompt_n, "prefill_first_tok_s": round(prompt_n / first, 1),
            "prefill_tok_s": round(prompt_n / warm, 1), "decoded": decode,
            "decode_tok_s": round(decode / max(1e-9, longer - one), 2), "draft": draft,
            "accepted": round(drafts[1] / drafts[0], 2) if drafts[0] else None,
            "build": build_name(engine_build()) if engine == "llama" else "",
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def busy_loop() -> subprocess.Popen:
    """The bundled examples' test suites, one after another, for as long as the cell runs (not the one whose
    bug is a hang: its suite would sit in one test instead of running many)."""
    from debugger.data.corpus import example_bugs
    suites = " ".join(f"'{d}'" for d, meta in example_bugs() if meta.get("bug_kind") != "hang")
    script = f"while true; do for d in {suites}; do (cd \"$d\" && {sys.executable} -m pytest -q -p no:cacheprovider " \
             ">/dev/null 2>&1); done; done"
    return subprocess.Popen(["bash", "-c", script], start_new_session=True)


def run_cell(model: str, engine: str, threads: int, busy: bool, decode: int, kind: str = "example",
             build: str | None = None, draft: str = "none") -> dict:
    """One cell in a fresh process; `build`: a folder holding another xllamacpp (pip install --target) that
    the cell imports instead of the installed one."""
    beside = busy_loop() if busy else None
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [build, os.environ.get("PYTHONPATH")])))
    try:
        p = subprocess.run([sys.executable, __file__, "--cell", model, engine, str(threads), str(decode), kind, draft],
                           capture_output=True, text=True, timeout=1800, env=env)
    finally:
        if beside is not None:
            os.killpg(beside.pid, 9)
            beside.wait()
    if p.returncode != 0:
        return {"model": model, "engine": engine, "threads": threads, "busy": busy, "draft": draft,
                "error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1]) | {"busy": busy}


def report(rows: list[dict], out: Path, kind: str = "example") -> None:
    from debugger.eval.runner import provenance
    prov = provenance([])
    head = (f"# Engines side by side\n\nRun at git `{prov['git_sha'][:10]}`{' (dirty)' if prov['git_dirty'] else ''}, "
            f"{prov['started']}, {prov['machine']['cores']} cores, {prov['machine']['platform']}.\n"
            f"Reproduce: `python eval/bench_engine.py {' '.join(sys.argv[1:])}`. "
            f"Prompt: {PROMPTS[kind]} ({rows[0].get('prompt_tokens', '?')} tokens); decode: "
            f"{rows[0].get('decoded', '?')} tokens. Threads `auto`: as `debugger fix` runs the engine. Prefill: the first "
            f"call (kernel set-up included, as a repair's first prompt) and warm (the faster of two more).\n\n")
    lines = ["| model | engine | draft | threads | beside | load s | prefill tok/s first / warm | decode tok/s | "
             "drafted tokens kept | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        beside = "tests" if r["busy"] else "idle"
        if "error" in r:
            lines.append(f"| {r['model']} | {r['engine']} | {r.get('draft', 'none')} | {r['threads'] or 'auto'} | {beside} "
                         f"| error: {r['error']} |||||")
            continue
        engine = f"{r['engine']} ({r['build']})" if r.get("build") else r["engine"]
        kept = "" if r.get("accepted") is None else f"{r['accepted']:.0%}"
        lines.append(f"| {r['model']} | {engine} | {r.get('draft', 'none')} | {r['threads'] or 'auto'} | {beside} | "
                     f"{r['load_s']} | {r['prefill_first_tok_s']} / {r['prefill_tok_s']} | {r['decode_tok_s']} | {kept} | "
                     f"{r['peak_rss_mb']} |")
    (out / "report.md").write_text(head + "\n".join(lines) + "\n\n![decode and prefill](engine.png)\n")
    (out / "results.json").write_text(json.dumps({"provenance": prov, "rows": rows}, indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [r for r in rows if "error" not in r]
    labels = [f"{Path(r['model']).name.split('-')[-1]} {r['engine'][:5]} {r.get('build', '')} "
              f"{_draft_label(r.get('draft', 'none'))}{r['threads'] or 'auto'}t "
              f"{'busy' if r['busy'] else 'idle'}"
              for r in ok]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.35 * len(ok) + 1.5))
    for ax, key, title in zip(axes, ("decode_tok_s", "prefill_tok_s"), ("decode tokens/s", "prefill tokens/s")):
        ax.barh(range(len(ok)), [r[key] for r in ok], color=["#2a7" if r["engine"] == "llama" else "#777" for r in ok])
        ax.set_yticks(range(len(ok)), labels if ax is axes[0] else [""] * len(ok))
        ax.set_title(title)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out / "engine.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cell", nargs=6, metavar=("MODEL", "ENGINE", "THREADS", "DECODE", "PROMPT", "DRAFT"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    ap.add_argument("--engines", default="llama,transformers")
    ap.add_argument("--threads", default="1,2", help="comma-separated; auto: the engine's default as `debugger fix` "
                    "runs it")
    ap.add_argument("--prompt", default="example", choices=sorted(PROMPTS), help="; ".join(f"{k}: {v}" for k, v in PROMPTS.items()))
    ap.add_argument("--decode", type=int, default=64, help="tokens each cell decodes")
    ap.add_argument("--drafts", default="none", help="comma-separated llama.cpp speculative decoding: none, ngram, "
                    "model:NAME (a smaller model of the same tokenizer drafts; transformers cells run none only)")
    ap.add_argument("--no-busy", action="store_true", help="idle cells only")
    ap.add_argument("--out", default="runs/bench-engine")
    ap.add_argument("--also-build", help="a folder with another xllamacpp build (pip install --target DIR WHEEL): "
                    "its llama.cpp cells run too, beside the installed engine's (say, the AVX2 wheel against "
                    "setup.sh's build for this CPU)")
    a = ap.parse_args()
    # a bench stopped with SIGTERM still stops its busy loop (run_cell's `finally`); killed, the loop ran on
    # in its own session and slowed every later measurement on the machine
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.cell:
        model, engine, threads, decode, kind, draft = a.cell
        print(json.dumps(cell(model, engine, int(threads), int(decode), kind, draft)))
        return
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in a.models.split(","):
        for engine in a.engines.split(","):
            if engine != "llama" and model.endswith(".gguf"):
                continue  # a bare .gguf runs on llama.cpp only
            for build in [None, a.also_build] if engine == "llama" and a.also_build else [None]:
                for threads in [0 if t == "auto" else int(t) for t in a.threads.split(",")]:
                    for draft in a.drafts.split(",") if engine == "llama" else ["none"]:
                        for busy in (False,) if a.no_busy else (False, True):
                            r = run_cell(model, engine, threads, busy, a.decode, a.prompt, build, draft)
                            print(json.dumps(r), file=sys.stderr, flush=True)
                            rows.append(r)
    report(rows, out, a.prompt)
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
