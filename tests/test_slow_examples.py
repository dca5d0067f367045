"""End to end with the real default model (1.5B, CPU): `debugger fix` on every bundled example."""
import json
from pathlib import Path

import pytest

from debugger.eval import runner, tasks

pytestmark = pytest.mark.slow


def test_default_model_runs_on_llama_and_its_transformers_copy_is_safetensors_only(cli):
    code, out, err, info = cli("model", "info", "--json")
    assert code == 0 and info["installed"] and info["engine"] == "llama", err
    if not info["ready"]:
        pytest.skip("model not assembled yet (setup.sh runs `debugger model pull`)")
    assert info["path"].endswith("model.gguf")
    code, out, err, info = cli("model", "info", "--model", info["scorer"], "--engine", "transformers", "--json")
    assert code == 0 and info["engine"] == "transformers", err
    files = {p.suffix for p in Path(info["path"]).iterdir()}
    assert ".safetensors" in files and not files & {".bin", ".pt", ".pkl", ".gguf"}
    meta = json.loads((Path(info["path"]) / "debugger.json").read_text())
    assert meta["gguf_sha256"] == info["sha256"]


def test_fixes_at_least_four_examples_judged_by_hidden_tests(tmp_path):
    rows = runner.run(tasks.from_examples(tmp_path / "tasks"), ["default"], tmp_path / "run")
    for r in rows:
        print(f"{r['task']:<20} {r['status']:<10} correct={r['correct']} {r['seconds']}s {r['tokens']} tok")
    assert all(r["status"] in ("fixed", "not_fixed") for r in rows), rows  # no crash, no error
    assert all(r["fixed"] and r["regressions"] == 0 for r in rows if r["status"] == "fixed"), rows
    assert sum(bool(r["correct"]) for r in rows) >= 4, rows
    assert all(r["model"] == "qwen2.5-coder-1.5b" and r["engine"] == "llama"
               for r in rows if r["status"] != "error"), rows
