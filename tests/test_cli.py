"""The `debugger fix` contract, driven as a user drives it, with the deterministic fake model."""
import os
import stat
import subprocess
import sys

import pytest

from conftest import fixed

KEYS = {"file", "status", "diff", "applied", "tests", "localization", "candidates", "model", "seconds", "error"}


def fake(name):
    return f"fake:{fixed(name)}"


@pytest.mark.integration
def test_fix_shows_a_verified_diff_and_leaves_the_file_alone(project, cli):
    root = project("calc")
    before = (root / "calc.py").read_bytes()
    code, out, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", cwd=root)
    assert code == 0, err
    assert KEYS <= set(data)
    assert data["status"] == "fixed" and not data["applied"]
    assert "-    return a + b\n+    return a * b" in data["diff"]
    assert data["tests"]["failing_before"] == ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_square"]
    assert len(data["tests"]["passing_after"]) == 3
    assert data["localization"][0]["start_line"] == 6
    assert data["candidates"]["plausible"] >= 1 and data["candidates"]["generated"] >= 1
    assert (root / "calc.py").read_bytes() == before
    assert not list(root.rglob("__pycache__")) and not (root / ".pytest_cache").exists()


@pytest.mark.integration
def test_trace_keeps_every_prompt_and_candidate_as_json_lines(project, cli, tmp_path):
    import json
    root = project("calc")
    trace = tmp_path / "trace.jsonl"
    code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", "--trace", str(trace), cwd=root)
    assert code == 0 and data["status"] == "fixed", err
    rows = [json.loads(ln) for ln in trace.read_text().splitlines()]
    kinds = [r["event"] for r in rows]
    assert kinds[0] == "baseline_start" and "baseline" in kinds and "localized" in kinds
    assert [r["t"] for r in rows] == sorted(r["t"] for r in rows)
    base = next(r for r in rows if r["event"] == "baseline")
    assert base["failing"] == ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_square"]
    prompts = [r for r in rows if r["event"] == "prompt"]
    assert prompts and all(r.get("text") or r.get("messages") for r in prompts)
    made = [r for r in rows if r["event"] == "generated"]  # what each prompt cost and gave
    assert len(made) == len(prompts) and all(r["seconds"] >= 0 and r["tokens"] >= 0 for r in made)
    assert sum(r["candidates"] for r in made) >= 1
    verdicts = [r for r in rows if r["event"] == "verdict"]
    won = [v for v in verdicts if v["plausible"]]
    assert won and "a * b" in won[0]["edit"]["text"] and won[0]["edit"]["start_line"] == 6
    assert set(won[0]["fixed"]) == set(base["failing"]) and won[0]["still_failing"] == {}
    lost = [v for v in verdicts if not v["plausible"]]  # a failing candidate says what its tests said
    assert all(v["still_failing"] or v["regressions"] for v in lost)
    for bad in ("calc.py", str(tmp_path / "no" / "such" / "dir" / "t.jsonl")):  # before any test runs
        code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", "--trace", bad, cwd=root)
        assert code == 2 and "--trace" in data["error"] and "\n" not in data["error"]
    assert not list(root.rglob("*.jsonl"))


@pytest.mark.integration
def test_human_output(project, cli):
    root = project("calc")
    code, out, err, _ = cli("fix", "calc.py", "--model", fake("calc"), cwd=root)
    assert code == 0
    assert "+    return a * b" in out and "debugger apply calc.py" in out
    assert "tests" in err and "candidate" in err


@pytest.mark.integration
def test_apply_writes_crlf_and_mode_exactly(project, cli):
    root = project("calc")
    path = root / "calc.py"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    os.chmod(path, 0o640)
    code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--apply", "--json", cwd=root)
    assert code == 0 and data["applied"], err
    assert path.read_bytes() == fixed("calc").read_bytes().replace(b"\n", b"\r\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in root.iterdir() if "debugger" in p.name] == []  # no temp files left


@pytest.mark.integration
def test_record_keeps_the_accepted_fix_as_a_bug_record(project, cli, tmp_path):
    from debugger.data.schema import read_jsonl
    root = project("calc")
    buggy = (root / "calc.py").read_text()
    (root / "calc.py").write_text(buggy.replace("def add", 'TOKEN = "ghp_' + "x" * 36 + '"\n\n\ndef add'))
    records = tmp_path / "mine" / "bugs.jsonl"
    code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", "--record-to", str(records),
                             cwd=root)
    assert code == 2 and "--apply" in data["error"] and not records.exists()  # nothing accepted, nothing recorded
    code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--apply", "--json", "--record-to",
                             str(records), cwd=root)
    assert code == 0 and data["applied"], err
    (rec,) = list(read_jsonl(records))
    assert rec.source == "user" and rec.failing_tests == data["tests"]["failing_before"]
    assert rec.fixed_span == "    return a * b\n" and "ghp_" not in records.read_text()


def test_already_passing_exits_0_without_loading_a_model(project, cli):
    root = project("calc")
    (root / "calc.py").write_bytes(fixed("calc").read_bytes())
    before = (root / "calc.py").read_bytes()
    code, _, _, data = cli("fix", "calc.py", "--model", "fake:/does/not/exist.py", "--json", cwd=root)
    assert (code, data["status"]) == (0, "already_passing")
    assert (root / "calc.py").read_bytes() == before


def test_no_fix_exits_1(project, cli):
    root = project("calc")
    # the "model" only ever answers with the buggy code itself
    code, _, _, data = cli("fix", "calc.py", "--model", f"fake:{root / 'calc.py'}", "--json", "--rounds", "1",
                           cwd=root)
    assert (code, data["status"]) == (1, "not_fixed")
    assert data["diff"] == "" and data["error"]


@pytest.mark.parametrize("setup,arg,message", [
    (None, "missing.py", "no such file"),
    (None, "tests", "directory"),
    ("notes.txt", "notes.txt", "not a Python file"),
    ("empty.py", "empty.py", "empty"),
    ("blob.py", "blob.py", "binary"),
])
def test_bad_input_is_one_line_exit_2(project, cli, setup, arg, message):
    root = project("calc")
    if setup:
        (root / setup).write_bytes(b"\x00\x01\x02" if setup == "blob.py" else b"" if setup == "empty.py" else b"hi")
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    code, out, err, _ = cli("fix", arg, "--model", fake("calc"), cwd=root)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    code, out, _, data = cli("fix", arg, "--model", fake("calc"), "--json", cwd=root)
    assert code == 2 and data["status"] == "error" and message in data["error"]
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot


def test_missing_test_command_and_no_tests(project, cli):
    root = project("calc")
    code, _, err, _ = cli("fix", "calc.py", "--model", fake("calc"), "--test", "no-such-runner-xyz", cwd=root)
    assert code == 2 and "test command not found" in err
    (root / "tests" / "test_calc.py").write_text("# nothing here\n")
    code, _, err, _ = cli("fix", "calc.py", "--model", fake("calc"), cwd=root)
    assert code == 2 and "no tests collected" in err


@pytest.mark.integration
def test_custom_test_command(project, cli):
    root = project("calc")
    code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--json",
                             "--test", f"{sys.executable} -m pytest tests/test_calc.py -q", cwd=root)
    assert code == 0 and data["status"] == "fixed", err
    assert data["tests"]["command"].endswith("tests/test_calc.py -q")


@pytest.mark.integration
def test_helper_bug_the_traceback_never_shows(project, cli):
    root = project("helper")
    code, _, err, data = cli("fix", "names.py", "--model", fake("helper"), "--json", cwd=root)
    assert code == 0 and data["status"] == "fixed", err
    assert "+    return name.strip().lower()" in data["diff"]


def test_syntax_error(project, cli):
    root = project("calc")
    (root / "calc.py").write_text(fixed("calc").read_text().replace("def mul(a, b):", "def mul(a, b)"))
    code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", cwd=root)
    assert code == 0 and data["status"] == "fixed", err
    assert data["tests"]["failing_before"] == ["tests/test_calc.py"]
    assert "+def mul(a, b):" in data["diff"]


def fix_variant(project, cli, old, new, *flags, timeout=300):
    """calc with one more edit (old -> new), repaired with the fake model in rewrite mode."""
    root = project("calc")
    (root / "calc.py").write_text((root / "calc.py").read_text().replace(old, new))
    code, _, err, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", "--formats", "rewrite", *flags,
                             cwd=root, timeout=timeout)
    assert code == 0 and data["status"] == "fixed", err
    return err, data


@pytest.mark.integration
def test_hanging_test_costs_its_timeout(project, cli):
    err, data = fix_variant(project, cli, "    return a + b\n\n\ndef square", "    while True:\n        pass\n\n\ndef square",
                            "--test-timeout", "2", timeout=120)
    assert "timed out" in err or data["seconds"] < 60


@pytest.mark.integration
def test_feedback_round_fixes_two_bugs(project, cli):
    _, data = fix_variant(project, cli, "def square(x):\n    return mul(x, x)", "def square(x):\n    return mul(x, x) + 1")
    assert data["winner"]["round"] == 1
    assert "+    return a * b" in data["diff"] and "+    return mul(x, x)\n" in data["diff"]


@pytest.mark.integration
def test_pyproject_settings_and_cli_precedence(project, cli):
    root = project("calc")
    with open(root / "pyproject.toml", "a") as f:
        f.write('\n[tool.debugger]\nformats = ["rewrite"]\nsamples = 0\n')
    code, _, _, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", cwd=root)
    assert data["winner"]["origin"].startswith("rewrite")
    code, _, _, data = cli("fix", "calc.py", "--model", fake("calc"), "--json", "--formats", "infill", cwd=root)
    assert data["winner"]["origin"].startswith("infill")
    with open(root / "pyproject.toml", "a") as f:
        f.write('bogus = 1\n')
    code, _, err, _ = cli("fix", "calc.py", "--model", fake("calc"), cwd=root)
    assert code == 2 and "unknown setting 'bogus'" in err


def test_help_does_not_import_torch_and_a_repair_imports_no_tooling():
    def loaded(*args):
        code = (f"import sys\nfrom debugger.cli import main\ntry:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
                "print(sorted(m for m in sys.modules if m == 'torch' or m.split('.')[:2] in "
                "(['debugger', 'data'], ['debugger', 'eval'], ['debugger', 'training'])))")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        return p.stdout.strip().splitlines()[-1], p.stdout
    mods, out = loaded("--help")
    assert "'torch'" not in mods and "eval" in out and "train" in out  # the command list names the tooling
    assert loaded("fix", "--help")[0] == "[]"
    assert loaded("hook", "--help")[0] == "[]"


@pytest.mark.integration
def test_python_api(project):
    from debugger import Debugger
    root = project("calc")
    result = Debugger(model=fake("calc")).fix(str(root / "calc.py"), apply=True)
    assert result.status == "fixed" and result.applied and result.exit_code == 0
    assert (root / "calc.py").read_bytes() == fixed("calc").read_bytes()
    assert set(result.to_json()) >= KEYS


@pytest.mark.integration
def test_python_api_loads_the_model_once(project, monkeypatch):
    from debugger import Debugger, pipeline
    made = []
    real = pipeline.make_generator
    monkeypatch.setattr(pipeline, "make_generator", lambda cfg, emit: made.append(cfg.model) or real(cfg, emit))
    dbg = Debugger(model=fake("calc"))
    for _ in range(2):
        root = project("calc")
        shutil_root = root.parent / f"copy{len(made)}"
        root.rename(shutil_root)
        assert dbg.fix(str(shutil_root / "calc.py")).status == "fixed"
    assert made == [fake("calc")]


@pytest.mark.integration
def test_the_budget_counts_from_the_process_start_and_the_result_is_written_before_the_exit(project):
    """A process whose command line started 500 s ago (its clock moved back) has no budget left: the repair
    stops before any candidate, says the budget ran out and counts those seconds; its JSON and exit code
    still come out (the command exits without the interpreter's teardown)."""
    import json
    root = project("calc")
    code = ("import sys, time; import debugger.cli as c; c.IMPORTED = time.monotonic() - 500; "
            f"sys.argv = ['debugger', 'fix', 'calc.py', '--model', {fake('calc')!r}, '--json']; c.main()")
    p = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    data = json.loads(p.stdout)
    assert p.returncode == 1 and data["status"] == "not_fixed" and data["seconds"] >= 500
    assert "budget of 120s ran out" in data["error"] and data["candidates"]["validated"] == 0
