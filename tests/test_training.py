"""LoRA training end to end on a tiny random model: adapter files, curves, provenance, resume, loading."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from debugger.data.schema import BugRecord, span_between, write_jsonl
from debugger.training.config import make

pytestmark = pytest.mark.integration  # whole runs: training, eval, data builds (see conftest)

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
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}<|im_start|>assistant\n")  # rewrite prompts are chats
    where = tmp_path_factory.mktemp("tiny-model")
    tok.save_pretrained(where)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    Qwen2ForCausalLM(cfg).save_pretrained(where, safe_serialization=True)
    return where


def test_training_writes_adapter_curves_and_provenance_then_resumes(tiny, tmp_path, cli):
    from debugger.training.train import train
    data = tmp_path / "bugs.jsonl"
    recs = _records()
    recs[0].source = "history"
    write_jsonl(data, recs)
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
    assert meta["examples_by_source"] == {"history": 1, "synthetic": 2}
    rows = [json.loads(ln) for ln in (out / "curves.jsonl").read_text().splitlines()]
    assert any("loss" in r for r in rows) and any("eval_loss" in r for r in rows)
    assert "plan" in events and summary["steps"] == 2 and not summary["resumed"]

    code, stdout, stderr, _ = cli("train", "--data", str(data), "--out", str(out), "--base", str(tiny),
                                  "--max-steps", "3", "--max-length", "4096", "--json", timeout=600)
    assert code == 0, stderr
    again = json.loads(stdout.strip().splitlines()[-1])
    assert again["resumed"] and again["steps"] == 3
    assert json.loads((out / "debugger_train.json").read_text())["config"]["max_length"] == 4096


def test_adapter_loads_into_the_generator_and_sets_the_window(tiny, tmp_path):
    from debugger.config import resolve
    from debugger.engines.hf import HFGenerator
    from debugger.prompts import infill
    from debugger.training.train import train
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


@pytest.mark.parametrize("rslora", [False, True])
def test_lora_merge_without_peft_matches_peft(tiny, tmp_path, rslora):
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from debugger.engines import lora
    torch.manual_seed(0)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], use_rslora=rslora,
                     init_lora_weights=False)  # random B: a zero delta would make any merge look right
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny), cfg).save_pretrained(tmp_path / "a")
    ours, before = AutoModelForCausalLM.from_pretrained(tiny), AutoModelForCausalLM.from_pretrained(tiny)
    assert lora.merge(ours, tmp_path / "a")
    theirs = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), tmp_path / "a").merge_and_unload()
    mine, ref, old = ours.state_dict(), theirs.state_dict(), before.state_dict()
    assert set(mine) == set(ref)
    changed = [k for k in ref if not torch.equal(ref[k], old[k])]
    assert len(changed) == 2 * 3  # two layers x three target modules
    assert all(torch.allclose(mine[k], ref[k], atol=1e-6) for k in ref)


def test_lora_merge_refuses_what_it_cannot_fold(tiny, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from debugger.engines import lora
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny),
                   LoraConfig(r=2, target_modules=["q_proj"], use_dora=True)).save_pretrained(tmp_path / "dora")
    model = AutoModelForCausalLM.from_pretrained(tiny)
    old = {k: v.clone() for k, v in model.state_dict().items()}
    assert not lora.merge(model, tmp_path / "dora")  # DoRA: left to peft, model untouched
    assert all(torch.equal(old[k], v) for k, v in model.state_dict().items())
    other = AutoModelForCausalLM.from_pretrained(tiny)
    get_peft_model(other, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(tmp_path / "a")
    cfg = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    (tmp_path / "a" / "adapter_config.json").write_text(json.dumps({**cfg, "use_dora": False}))
    from safetensors.torch import load_file, save_file
    t = load_file(str(tmp_path / "a" / "adapter_model.safetensors"))
    save_file({k.replace("layers.1.", "layers.7."): v for k, v in t.items()},
              str(tmp_path / "a" / "adapter_model.safetensors"))  # a layer this model does not have
    with pytest.raises(lora.AdapterError, match="does not fit"):
        lora.merge(model, tmp_path / "a")
    assert all(torch.equal(old[k], v) for k, v in model.state_dict().items())
    with pytest.raises(lora.AdapterError, match="not a PEFT adapter"):
        lora.merge(model, tmp_path)


def test_presets_and_bad_settings():
    assert make("d", "o", "gpu").batch_size == 8 and make("d", "o", "gpu").lora.r == 16
    assert make("d", "o", "cpu", lr=1e-3).lr == 1e-3
    with pytest.raises(ValueError, match="unknown preset"):
        make("d", "o", "tpu")


def test_heldout_configs_differ_only_in_the_adapter(tmp_path):
    from debugger.config import resolve
    from debugger.training import heldout
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "debugger_train.json").write_text(json.dumps({"config": {"context_lines": 24}}))
    (adapter / "adapter_config.json").write_text("{}")
    base, lora = (resolve(tmp_path, config_file=path) for path in heldout.configs(adapter))
    assert base.adapter is None and lora.adapter == str(adapter.resolve())
    assert base.context_lines == lora.context_lines == 24  # the same prompts: only the weights differ
    assert base.weights == lora.weights and base.model == lora.model and base.top_k == lora.top_k


def test_the_shipped_adapter_is_the_default_for_its_model(tmp_path):
    from debugger.config import resolve, shipped_adapter
    from debugger.engines.packs import SMALL_MODEL
    shipped = Path(shipped_adapter(SMALL_MODEL))
    assert {"adapter_config.json", "adapter_model.safetensors", "debugger_train.json"} <= {p.name for p in shipped.iterdir()}
    for overrides in ({}, {"adapter": "auto"}):  # no flag: the shipped adapter
        cfg = resolve(tmp_path, {"model": SMALL_MODEL, **overrides})
        assert cfg.adapter == str(shipped) and cfg.context_lines == 24  # prompted with the window it learned
    assert resolve(tmp_path, {}).adapter is None  # the default model (the 1.5B): none ships for it
    assert resolve(tmp_path, {"adapter": "auto", "model": "fake:x.py"}).adapter is None  # none ships for it
    assert resolve(tmp_path, {"model": str(shipped)}).adapter is None  # a model dir is never its own adapter
    assert resolve(tmp_path, {"adapter": "none"}).adapter is None


def test_line_surprisal_reads_the_ranges_that_fit_its_budget(tiny):
    from debugger.engines.hf import HFGenerator
    gen = HFGenerator(str(tiny))
    text = _records()[0].buggy * 6  # the same function six times: 30+ lines
    n = len(text.splitlines())
    first, second = (n - 4, n), (1, 5)  # most suspicious first
    wide = gen.line_surprisal(text, [first, second], max_tokens=10_000)
    assert set(wide) <= set(range(1, 6)) | set(range(n - 4, n + 1)) and max(wide) > n - 5 and min(wide) <= 5
    toks = gen.line_surprisal(text, [first, second], max_tokens=10_000, tokens=True)
    assert all(abs(sum(toks[ln]) / len(toks[ln]) - wide[ln]) < 1e-2 for ln in wide)
    tight_budget = len(gen.tok("".join(text.splitlines(keepends=True)[n - 5:])).input_ids)
    tight = gen.line_surprisal(text, [first, second], max_tokens=tight_budget)
    assert tight and min(tight) >= n - 4  # only the first range fits: the second is left out
    assert gen.line_surprisal(text, [first], max_tokens=3) is None



def test_infill_nll_scores_each_middle_between_its_prefix_and_suffix(tiny):
    from debugger.engines.hf import HFGenerator
    gen = HFGenerator(str(tiny))
    pieces = [("def add0(a, b):\n", "    return a - b\n", "\n\ndef keep(x):\n    return x\n"),
              ("", "def keep(x):\n", "    return x\n")]
    scores = gen.infill_nll(pieces)
    for got, (_prefix, middle, _suffix) in zip(scores, pieces):
        assert len(got) == len(gen.tok(middle).input_ids)  # one pair per token of the middle
        assert all(nll >= top - 1e-4 for nll, top in got)  # no token beats the model's own top token
    # the same middle between other lines is another answer: the pass reads what follows, not only what precedes
    moved = gen.infill_nll([(pieces[0][0], pieces[0][1], "\n")])[0]
    assert len(moved) == len(scores[0]) and moved != scores[0]
    assert gen.infill_nll([]) == []

def test_localize_cli_says_when_surprisal_read_only_some_suspects(tiny, tmp_path, cli):
    """A failing function too long for the token budget is left out of the surprisal pass: the CLI
    must say how many of the suspect functions the model read rather than pass over it silently."""
    body = "".join("    a = a\n" for _ in range(1200))  # ~2,400 tokens of the tiny vocabulary
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "mod.py").write_text(f"def long(a, b):\n{body}    return a - b\n\n\ndef short(a, b):\n    return a - b\n")
    (tmp_path / "test_mod.py").write_text("from mod import long, short\n\n\ndef test_long():\n    assert long(2, 3) == 5\n"
                                          "\n\ndef test_short():\n    assert short(2, 3) == 5\n")
    code, _, err, _ = cli("localize", "mod.py", "--surprisal", "--model", str(tiny), cwd=tmp_path)
    assert code == 0, err
    assert "surprisal read 1 of 2 suspect functions" in err


def test_sweep_trains_each_grid_point_scores_it_by_eval_and_keeps_the_best(tiny, tmp_path, cli):
    from debugger.eval.tasks import Task, load_task
    from debugger.training.sweep import Grid, read_grid, sweep
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())
    rec = _records()[3]
    folder = tmp_path / "bench" / "toy-add"
    (folder / "task").mkdir(parents=True)
    (folder / "task" / "m3.py").write_text(rec.buggy)
    (folder / "task" / "pyproject.toml").write_text("[project]\nname = 'toy'\n")
    (folder / "task" / "test_m.py").write_text("from m3 import add3\n\n\ndef test_add():\n    assert add3(2, 3) == 5\n")
    (folder / "task.json").write_text(json.dumps(Task("toy-add", "m3.py", "python -m pytest -q").to_json()))
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text("lr = [1e-3]\ncontext_lines = [6, 10]\n[trial]\nmax_steps = 1\nmax_examples = 3\n"
                         "max_length = 4000\nbudget = 20\n")
    grid = read_grid(grid_file)
    assert grid == Grid({"lr": [1e-3], "context_lines": [6, 10]}, max_steps=1, max_examples=3, max_length=4000,
                        budget=20.0)
    points = grid.points()
    out = tmp_path / "swept"
    events = []
    result = sweep(str(data), out, grid, base=str(tiny), bench=[load_task(folder)],
                   on_event=lambda n, p: events.append((n, p.get("trial"))))
    rows = result["trials"]
    assert [(r["trial"], r["lr"], r["context_lines"], r["tasks"], r["crashes"]) for r in rows] == \
        [("t00", *points[0].values(), 1, 0), ("t01", *points[1].values(), 1, 0)]
    assert ("row", "t00") in events and ("row", "t01") in events  # each trial went through `debugger eval`
    # the base alone was scored first on the same task, once per window the trials are prompted with (it
    # would otherwise see the whole file), as the reference, and is never the chosen one
    assert events.index(("row", "base-w6")) < events.index(("row", "t00"))
    assert events.index(("row", "base-w10")) < events.index(("row", "t00"))
    for w in (6, 10):
        config = (out / "trials" / f"base-w{w}" / f"base-w{w}.toml").read_text()
        assert 'adapter = "none"' in config and f"context_lines = {w}\n" in config
    assert "context_lines" not in (out / "trials" / "t00" / "t00.toml").read_text()  # the adapter's own window
    assert result["without_adapter"]["trial"] == f"base-w{result['chosen']['context_lines']}"
    assert [b["trial"] for b in result["bases"]] == ["base-w10", "base-w6"]
    # a random model fixes nothing here, so the tie goes to the lower eval loss
    best = min(rows, key=lambda r: r["eval_loss"]) if rows[0]["correct"] == rows[1]["correct"] else None
    assert best is None or result["chosen"]["trial"] == best["trial"]
    chosen = out / "trials" / result["chosen"]["trial"]
    assert (out / "adapter_model.safetensors").read_bytes() == (chosen / "adapter_model.safetensors").read_bytes()
    assert json.loads((out / "sweep.json").read_text())["chosen"] == result["chosen"] and (out / "sweep.png").stat().st_size
    page = (out / "sweep.md").read_text()
    assert "window" not in page.split("|")[0]  # the window is a column here, not a shared setting
    assert "| base-w6 (no adapter) | - | 6 |" in page and f"| **{result['chosen']['trial']}** (chosen) |" in page
    chosen_config = json.loads((out / "debugger_train.json").read_text())["config"]
    assert chosen_config["lr"] == result["chosen"]["lr"] and chosen_config["max_length"] == 4000
    assert chosen_config["context_lines"] == result["chosen"]["context_lines"]
    # a rerun keeps finished trials; a base row without its window (scored on whole files) or at another
    # window than its name says is scored again
    table = out / "trials" / "trials.jsonl"
    stale = [json.loads(ln) for ln in table.read_text().splitlines()]
    for r in stale:
        if r["trial"] == "base-w6":
            del r["context_lines"]
        elif r["trial"] == "base-w10":
            r["context_lines"] = 99
    table.write_text("".join(json.dumps(r) + "\n" for r in stale))
    events.clear()
    sweep(str(data), out, grid, base=str(tiny), bench=[load_task(folder)],
          on_event=lambda n, p: events.append((n, p.get("trial"))))
    assert [t for n, t in events if n == "trial"] == ["base-w10", "base-w6"]
    assert sorted(json.loads(ln)["trial"] for ln in table.read_text().splitlines()) == \
        ["base-w10", "base-w6", "t00", "t01"]
    # more tasks to score on: every row is scored again, on all of them, and no trial is trained again
    shutil.copytree(folder, tmp_path / "bench" / "toy-add2")
    task2 = tmp_path / "bench" / "toy-add2" / "task.json"
    task2.write_text(task2.read_text().replace('"toy-add"', '"toy-add2"'))
    adapters = {t: (out / "trials" / t / "adapter_model.safetensors").read_bytes() for t in ("t00", "t01")}
    events.clear()
    grown = sweep(str(data), out, grid, base=str(tiny), bench=[load_task(folder), load_task(task2.parent)],
                  on_event=lambda n, p: events.append((n, p.get("trial"))))
    assert [t for n, t in events if n == "trial"] == ["base-w10", "base-w6", "t00", "t01"]
    assert not [n for n, _ in events if n in ("plan", "step")]
    assert {t: (out / "trials" / t / "adapter_model.safetensors").read_bytes() for t in adapters} == adapters
    assert [r["tasks"] for r in grown["trials"] + grown["bases"]] == [2, 2, 2, 2] and len(grown["tasks"]) == 2
    # an adapter trained with the same settings elsewhere, copied into another sweep's trial folder, is that trial
    grid_one = Grid({"lr": [1e-3], "context_lines": [10]}, max_steps=1, max_examples=3, max_length=4000, budget=20.0)
    shutil.copytree(out / "trials" / "t01", tmp_path / "other" / "trials" / "t00")
    events.clear()
    other = sweep(str(data), tmp_path / "other", grid_one, base=str(tiny), bench=[load_task(folder)],
                  on_event=lambda n, p: events.append((n, p.get("trial"))))
    assert not [n for n, _ in events if n in ("plan", "step")] and other["chosen"]["trial"] == "t00"
    # a task that is one of the training split's bugs is refused before anything runs
    leaked = tmp_path / "leaked" / f"toy-{_records()[0].id}"
    shutil.copytree(folder, leaked)
    (leaked / "task.json").write_text((leaked / "task.json").read_text().replace('"toy-add"', f'"{leaked.name}"'))
    with pytest.raises(ValueError, match="1 task.* bugs of .*train split"):
        sweep(str(data), tmp_path / "y", grid, base=str(tiny), bench=[load_task(leaked)])
    assert not (tmp_path / "y" / "trials" / "trials.jsonl").exists()

    for text, why in (("batch = [1]\n", "unknown axis 'batch'"), ("lr = []\n", "lr must be a non-empty list"),
                      ("r = [8.5]\n", "r = 8.5 is not an integer"), ("lr = [1e-4]\n[trial]\nsteps = 3\n", "unknown [trial]")):
        grid_file.write_text(text)
        code, _, stderr, _ = cli("train", "--data", str(data), "--out", str(tmp_path / "x"), "--sweep", str(grid_file))
        assert code == 2 and why in stderr and not (tmp_path / "x").exists()
    grid_file.write_text("lr = [1e-4]\n")
    code, _, stderr, _ = cli("train", "--data", str(data), "--out", str(tmp_path / "x"), "--sweep", str(grid_file),
                             "--lr", "1e-3")
    assert code == 2 and "the grid file sets the training settings" in stderr


def _task(folder: Path, tid: str) -> None:
    """A one-file eval task FOLDER/TID (the tests that use it never run it)."""
    from debugger.eval.tasks import Task
    (folder / tid / "task").mkdir(parents=True)
    (folder / tid / "task" / "m.py").write_text("x = 1\n")
    (folder / tid / "task.json").write_text(json.dumps(Task(tid, "m.py", "python -m pytest -q").to_json()))


def test_sweep_tasks_come_from_a_folder_never_from_held_out_projects(tmp_path, cli):
    """`train --sweep GRID --sweep-tasks DIR` scores the trials on DIR's tasks (say, real bugs of a training
    project's history); a held-out project's task, an empty folder or --sweep-tasks alone exit 2 before training."""
    from debugger.training.cli import _sweep_bench
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())
    grid = tmp_path / "grid.toml"
    grid.write_text("lr = [1e-4]\n")

    ok = tmp_path / "history-tasks"
    _task(ok, "parse-3f2a1b")
    _task(ok, "cachetools-77aa01")
    assert [t.id for t in _sweep_bench(str(ok))] == ["cachetools-77aa01", "parse-3f2a1b"]
    held = tmp_path / "held"
    _task(held, "parse-3f2a1b")
    _task(held, "isodate-0ceaab4ec7")
    (tmp_path / "empty").mkdir()
    for args, why in ((["--sweep", str(grid), "--sweep-tasks", str(held)], "held-out projects (isodate-0ceaab4ec7)"),
                      (["--sweep", str(grid), "--sweep-tasks", str(tmp_path / "empty")], "no tasks"),
                      (["--sweep-tasks", str(ok)], "--sweep-tasks goes with --sweep")):
        code, _, stderr, _ = cli("train", "--data", str(data), "--out", str(tmp_path / "x"), *args)
        assert code == 2 and why in stderr.replace("\n", ""), stderr
        assert not (tmp_path / "x").exists()


def test_heldout_eval_tasks_never_come_from_a_project_the_adapter_trained_on(tmp_path, cli):
    """`train --eval-tasks DIR` adds DIR's tasks (real bugs of held-out projects, say) to the paired evaluation;
    a task of a project in the data's train split (here `toy`) is refused with exit 2 before training starts."""
    from debugger.training.heldout import extra_tasks
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())

    real = tmp_path / "realbench"
    _task(real, "isodate-005f54")
    _task(real, "toyota-1")  # another project whose name starts like a trained one's
    assert [t.id for t in extra_tasks(data, real)] == ["isodate-005f54", "toyota-1"]
    _task(real, "toy-3f2a1b")
    for args, why in ((["--eval-tasks", str(real)], "1 task(s) of projects the adapter trained on (toy-3f2a1b)"),
                      (["--eval-tasks", str(tmp_path / "none")], "not a directory of tasks"),
                      (["--eval-tasks", str(real), "--sweep", str(tmp_path / "g.toml")], "drop --max-steps")):
        (tmp_path / "g.toml").write_text("lr = [1e-4]\n")
        code, _, stderr, _ = cli("train", "--data", str(data), "--out", str(tmp_path / "x"), *args)
        assert code == 2 and why in stderr.replace("\n", ""), stderr
        assert not (tmp_path / "x").exists()


def test_eval_only_evaluates_the_adapter_in_out_at_the_budget_given_and_trains_nothing(tmp_path, cli, monkeypatch):
    """`train --eval-only --eval-limit N --eval-budget S` runs the paired evaluation on OUT's adapter (a sweep's
    chosen one, say) without training, both configs at S seconds per repair; misuse exits 2 before anything runs."""
    from typer.testing import CliRunner

    from debugger.cli import _register_tooling, app
    from debugger.eval import runner
    from debugger.training import heldout
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())
    empty = tmp_path / "empty"
    for args, why in ((["--out", str(empty), "--eval-limit", "3"], "no adapter to evaluate"),
                      (["--out", str(empty)], "needs --eval-limit N or --eval-tasks DIR"),
                      (["--out", str(empty), "--eval-limit", "3", "--lr", "1e-3"], "trains nothing")):
        code, _, stderr, _ = cli("train", "--data", str(data), "--eval-only", *args)
        assert code == 2 and why in stderr.replace("\n", ""), stderr
        assert not empty.exists()
    for flag in ("--eval-budget", "--eval-model-only", "--eval-weights"):
        code, _, stderr, _ = cli("train", "--data", str(data), "--out", str(empty), flag, *(["30"] if "budget" in flag else []))
        assert code == 2 and f"{flag} goes with --eval-limit" in stderr

    adapter = tmp_path / "chosen"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "debugger_train.json").write_text(json.dumps({"config": {"context_lines": 24}}))
    real = tmp_path / "realbench"
    _task(real, "isodate-005f54")
    _task(real, "isodate-0ceaab")
    seen = {}

    def fake_run(bench, configs, out, *, time_limit, on_row, extra):  # each task: the adapter fixes, the base does not
        seen.update(tasks=[t.id for t in bench], configs=[Path(c).name for c in configs], extra=extra, out=out,
                    texts=[Path(c).read_text() for c in configs])
        rows = [{"task": t.id, "config": Path(c).stem, "correct": Path(c).stem == "lora", "fixed": Path(c).stem == "lora",
                 "seconds": 1.0, "tokens": 0, "status": "ok"} for t in bench for c in configs]
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for r in rows:
            on_row(r)
        return rows

    monkeypatch.setattr(runner, "run", fake_run)
    monkeypatch.setattr(heldout.report, "write", lambda run: None)
    _register_tooling()
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(adapter), "--eval-only",
                                      "--eval-tasks", str(real), "--eval-budget", "30"])
    assert result.exit_code == 0, result.output
    assert seen["configs"] == ["base.toml", "lora.toml"] and seen["extra"] == ["--budget", "30.0"]
    assert seen["tasks"][-2:] == ["isodate-005f54", "isodate-0ceaab"]  # after the bundled examples
    assert not (adapter / "checkpoints").exists() and not (adapter / "adapter_model.safetensors").exists()
    n = len(seen["tasks"])
    assert f"adapter {n}/{n} correct, base 0/{n}; adapter alone {n}, base alone 0: +100.0 points" in result.output
    assert seen["out"] == adapter / "eval" / "run" and not any("formats" in t for t in seen["texts"])
    assert "context_lines = 24" in seen["texts"][0]  # the base is prompted with the adapter's window

    # --eval-model-only: both configs leave the probe's mutants out, in a run of their own
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(adapter), "--eval-only",
                                      "--eval-tasks", str(real), "--eval-model-only"])
    assert result.exit_code == 0, result.output
    assert seen["out"] == adapter / "eval-model-only" / "run" and seen["extra"] is None
    assert all('formats = ["infill", "rewrite"]' in t for t in seen["texts"])
    assert "the model writing every candidate" in result.output
    assert "eval-model-only/run/report.md" in result.output.replace("\n", "")

    # --eval-weights: the weights alone on the same tasks (eval/weights.py), base and adapter at the adapter's window
    from debugger.eval import weights

    def fake_weights(bench, models, out, *, window, on_row):
        seen.update(tasks=[t.id for t in bench], models=models, window=window, out=out)
        rows = [{"task": t.id, "config": m.label, "correct": m.adapter is not None, "fixed": True, "seconds": 1.0,
                 "tokens": 3, "prompts": []} for t in bench for m in models]
        for r in rows:
            on_row(r)
        return rows
    monkeypatch.setattr(weights, "run", fake_weights)
    monkeypatch.setattr(weights, "write_report", lambda out, rows, groups: seen.update(groups=groups))
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(adapter), "--eval-only",
                                      "--eval-tasks", str(real), "--eval-weights"])
    assert result.exit_code == 0, result.output
    assert seen["out"] == adapter / "eval-weights" and seen["window"] == 24
    assert [(m.label, m.adapter) for m in seen["models"]] == [("base", None), ("lora", str(adapter.resolve()))]
    assert seen["tasks"][-2:] == ["isodate-005f54", "isodate-0ceaab"]
    assert seen["groups"]["isodate-005f54"] == "extra tasks" and seen["groups"][seen["tasks"][0]] == "examples"
    assert f"adapter {n}/{n} correct, base 0/{n}" in result.output and "eval-weights/report.md" in result.output.replace("\n", "")
    code, _, stderr, _ = cli("train", "--data", str(data), "--out", str(adapter), "--eval-only", "--eval-tasks", str(real),
                             "--eval-weights", "--eval-budget", "30")
    assert code == 2 and "--eval-weights has no time budget" in stderr


def test_sweep_can_score_the_weights_alone(tmp_path):
    """`score = "weights"` in the grid's [trial] table: each trial (and the base) is scored by eval/weights.py,
    greedy patches at each task's true lines with no budget; the table says so and a bad value is refused."""
    import time

    from conftest import FIXTURES, fixed
    from debugger.eval.tasks import PYTEST, Task, load_bench, write_task
    from debugger.training.sweep import _score, markdown, read_grid
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('lr = [1e-4]\n[trial]\nscore = "weights"\nbudget = 45\n')
    grid = read_grid(grid_file)
    assert grid.score == "weights"
    grid_file.write_text('lr = [1e-4]\n[trial]\nscore = "fast"\n')
    with pytest.raises(ValueError, match="score = 'fast' is not one of repair, weights"):
        read_grid(grid_file)
    write_task(tmp_path / "bench", Task("calc", "calc.py", PYTEST, fix_lines=[6, 6]), FIXTURES / "calc")
    events, table = [], tmp_path / "trials.jsonl"
    # the fake model (the reference fix) stands in for the base, seeing whole files; no judge: fixed, not correct
    row = _score(tmp_path / "trials" / "base", None, grid, f"fake:{fixed('calc')}", load_bench(tmp_path / "bench"),
                 {}, None, time.time(), table, 60, lambda n, p: events.append((n, p.get("trial"))), window=None)
    assert (row["trial"], row["score"], row["correct"], row["fixed"], row["tasks"]) == ("base", "weights", 0, 1, 1)
    assert ("row", "base") in events and (tmp_path / "trials" / "base" / "eval-weights" / "results.jsonl").is_file()
    assert not (tmp_path / "trials" / "base" / "eval").exists()  # no `debugger eval` run
    # the next trial is prompted with the failure text the first one read (it names a scratch folder, another
    # each run), not its own reading of it
    shared = tmp_path / "trials" / "failures.json"
    assert json.loads(shared.read_text()).keys() == {"calc"}
    shared.write_text(json.dumps({"calc": "the failure as first read"}))
    _score(tmp_path / "trials" / "t00", None, grid, f"fake:{fixed('calc')}", load_bench(tmp_path / "bench"),
           {}, None, time.time(), table, 60, lambda n, p: None, window=None)
    assert json.loads((tmp_path / "trials" / "t00" / "eval-weights" / "failures.json").read_text()) == \
        {"calc": "the failure as first read"}
    from dataclasses import asdict
    page = markdown({"grid": asdict(grid), "trials": [dict(row, trial="t00", lr=1e-4)], "bases": [row],
                     "without_adapter": row, "chosen": dict(row, trial="t00"), "tasks": ["calc"],
                     "provenance": {"git_sha": "abc"}})
    assert "Scored by the weights alone" in page and "seconds per repair" not in page and "budget 45" not in page


def test_training_computes_in_bf16_only_where_the_hardware_does(monkeypatch):
    """On a CPU without AMX or AVX512-BF16, torch emulates bf16 (minutes an example): training falls back to fp32."""
    from debugger.training import train as tr
    monkeypatch.setattr(tr, "_cuda", lambda: False)
    assert tr.bf16_fast("flags : fpu sse2 avx2 fma amx_bf16 amx_tile\n") and tr.bf16_fast("flags : avx512f avx512_bf16\n")
    assert not tr.bf16_fast("flags : fpu sse2 avx avx2 fma avx512f\n")
    cfg = make("d.jsonl", "out")
    assert cfg.bf16 is None and tr.use_bf16(cfg) == tr.bf16_fast()
    assert tr.use_bf16(make("d.jsonl", "out", bf16=False)) is False and tr.use_bf16(make("d.jsonl", "out", bf16=True))
    monkeypatch.setattr(tr, "_cuda", lambda: True)
    assert tr.bf16_fast("flags : avx2\n")


def test_sweep_prints_each_trials_plan_and_eval_loss(tmp_path, monkeypatch):
    """A sweep runs for hours: each trial's training says what it trains on and its ETA, and its eval losses, as
    `debugger train` does, where a log shows them (the bar alone is not drawn in a log)."""
    from typer.testing import CliRunner

    from debugger.cli import _register_tooling, app
    from debugger.training import sweep as sweep_module
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text("lr = [1e-4]\n")
    row = {"trial": "t00", "lr": 1e-4, "tasks": 3, "correct": 1, "fixed": 1, "eval_loss": 0.5, "seconds": 60.0}

    def fake_sweep(data, out, grid, on_event, **_):
        on_event("trial", {"trial": "t00", "index": 0, "of": 1, "lr": 1e-4})
        on_event("plan", {"trial": "t00", "examples": 160, "dropped": 4, "by_source": {"mutant": 150, "history": 10},
                          "eval_examples": 22, "tokens": 96_000, "steps": 20, "bf16": False, "eta_seconds": 2000})
        on_event("step", {"trial": "t00", "step": 20, "max_steps": 20})
        on_event("log", {"trial": "t00", "step": 20, "eval_loss": 0.5})
        on_event("scored", row)
        return {"chosen": row}
    monkeypatch.setattr(sweep_module, "sweep", fake_sweep)
    _register_tooling()
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "out"), "--sweep",
                                      str(grid_file)])
    stderr = " ".join(result.stderr.split())  # as one line, however the console wrapped it
    assert result.exit_code == 0, stderr
    assert "t00: 160 examples (150 mutant, 10 history; 4 dropped as too long), 96,000 tokens, 20 steps in fp32; " \
        "about 33 min" in stderr
    assert "t00: step 20: eval loss 0.500" in stderr and "chosen: t00 (1/3 correct)" in stderr


def test_two_processes_under_accelerate_launch_train_one_adapter(tiny, tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` on a machine without a GPU: torchrun starts two
    processes that train on the CPU over gloo (DDP), one writes the adapter, the curves and the provenance,
    which say two processes trained it; the adapter loads. (`--cpu` alone starts one process: accelerate's
    multi-CPU launch goes through mpirun.)"""
    import subprocess
    import sys
    data = tmp_path / "bugs.jsonl"
    write_jsonl(data, _records())
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m",
                        "debugger.training.train", "--data", str(data), "--out", str(out), "--base", str(tiny),
                        "--max-steps", "2", "--threads", "1"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads(p.stdout.strip().splitlines()[-1])  # rank 0's; rank 1 prints nothing
    assert summary["processes"] == 2 and summary["distributed"] == "distributed" and summary["steps"] == 2
    meta = json.loads((out / "debugger_train.json").read_text())
    assert meta["processes"] == 2 and meta["steps"] == 2
    rows = [json.loads(ln) for ln in (out / "curves.jsonl").read_text().splitlines()]
    kinds = [(r["step"], tuple(sorted(k for k in r if k not in ("time", "epoch")))) for r in rows]
    assert rows and len(kinds) == len(set(kinds))  # one writer: no row twice
    from peft import PeftConfig
    assert PeftConfig.from_pretrained(str(out)).r == meta["config"]["lora"]["r"]
