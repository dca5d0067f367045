"""Attacks on the tool: each one asserts that debugger keeps working and that no user byte changes.

Candidates come from a scripted generator: the attack first, then the real fix. The attack must either
be refused by the patch screen or die harmlessly in the sandbox, and the real fix must still win.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import FIXTURES
from fakes import Scripted
from debugger.config import FixConfig
from debugger.pipeline import Models, fix
from debugger.sandbox import Limits, LocalSandbox, isolation, make_sandbox
from debugger.screen import screen
from debugger.source import InputError

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = ("from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
         "def test_mul():\n    assert mul(3, 4) == 12\n")
GOOD = "    return a + b\n"
ISOLATED = pytest.mark.skipif(isolation() != "bwrap" and not os.environ.get("DEBUGGER_REQUIRE_ISOLATION"),
                              reason="needs bubblewrap (CI installs it and sets DEBUGGER_REQUIRE_ISOLATION)")


def scripted(*attacks: str, on_call=None) -> Scripted:
    """Answers an infill of line 2 with each attack, then the real fix; anything else with the original."""
    return Scripted(2, [*attacks, GOOD], on_call=on_call)


def make(tmp_path: Path, source: str | bytes = BUGGY, tests: str = TESTS, name: str = "calc.py") -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'calc'\n")
    (root / "tests" / "test_calc.py").write_text(tests)
    target = root / name
    target.write_bytes(source.encode() if isinstance(source, str) else source)
    return target


def cfg(**kw) -> FixConfig:
    base = dict(test=f"{sys.executable} -m pytest -q", samples=0, rounds=0, surprisal=False, timeout=60,
                test_timeout=3, budget=120, formats=["infill"])
    return FixConfig(**{**base, **kw})


def attack(tmp_path, *candidates, **kw):
    target = make(tmp_path)
    before = target.read_bytes()
    result = fix(str(target), cfg(**kw), models=Models(generator=scripted(*candidates)))
    assert target.read_bytes() == before
    assert result.status == "fixed", result
    assert "+    return a + b" in result.diff
    return result


# -- candidates that game the tests: refused before they run ----------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("bad, reason", [
    ("    import sys; sys.exit(0)\n", "calls sys.exit"),
    ("    import os; os._exit(0)\n", "calls os._exit"),
    ("    raise SystemExit(0)\n", "raises SystemExit"),
    ("    import pytest; pytest.skip('later')\n", "skips tests via pytest.skip"),
    ("    return eval('a + b')\n", "calls eval"),
    ("    exec('import os'); return a + b\n", "calls exec"),
    ("    import subprocess; return a + b\n", "imports subprocess"),
    ("    import socket; return a + b\n", "imports socket"),
    ("    import pickle; return pickle.loads(pickle.dumps(a + b))\n", "imports pickle"),
    ("    import numpyy_turbo; return a + b\n", "fabricated dependency"),
    ("    return a + b if '\u202e\u2066' else 0\n", "bidi-control"),
    ("    return a + b if 'ok\u200b' else 0\n", "invisible"),
    ("    import os; os.system('true'); return a + b\n", "calls os.system"),
])
def test_gaming_candidates_are_refused_before_running(tmp_path, bad, reason):
    result = attack(tmp_path, bad)
    assert result.candidates["rejected"] >= 1
    assert reason in " ".join(result.rejected[0]["reasons"])


def test_eq_returning_a_constant_is_refused():
    old = "class V:\n    def __eq__(self, other):\n        return self.x == other.x\n"
    new = "class V:\n    def __eq__(self, other):\n        return True\n"
    verdict = screen(old, new, 3, 3, 1, span=(3, 3))
    assert not verdict.ok and "__eq__ returns a constant" in verdict.reasons[0]


def test_edit_outside_the_offered_span_is_refused():
    verdict = screen(BUGGY, BUGGY.replace("a * b", "b * a"), 6, 6, 1, span=(2, 2))
    assert not verdict.ok and "outside the offered span" in verdict.reasons[0]


def test_what_the_original_already_did_is_not_held_against_a_candidate(tmp_path):
    old = "def run(cmd):\n    return eval(cmd)\n"
    assert screen(old, "def run(cmd):\n    return eval(cmd.strip())\n", 2, 2, 1, span=(2, 2)).ok
    assert screen(BUGGY, BUGGY.replace("a - b", "abs(a + b)"), 2, 2, 1, span=(2, 2)).ok


# -- candidates that attack the machine: they run, in the sandbox, and die there ---------------------------
@pytest.mark.integration
def test_hanging_candidate(tmp_path):
    result = attack(tmp_path, "    while True:\n        pass\n")
    assert result.candidates["validated"] == 2


@pytest.mark.integration
def test_hang_in_a_fixture(tmp_path):
    tests = ("import pytest\nfrom calc import add, mul\n\n\n@pytest.fixture\ndef five():\n    return add(2, 3)\n\n\n"
             "def test_add(five):\n    assert five == 5\n\n\ndef test_mul():\n    assert mul(3, 4) == 12\n")
    target = make(tmp_path, tests=tests)
    t0 = time.monotonic()
    result = fix(str(target), cfg(), models=Models(generator=scripted("    while True:\n        a += 0\n")))
    assert result.status == "fixed" and time.monotonic() - t0 < 60
    assert target.read_text() == BUGGY


@pytest.mark.integration
def test_memory_bomb_candidate(tmp_path):
    attack(tmp_path, "    return len(bytearray(1 << 40)) + a + b\n")


@pytest.mark.integration
def test_huge_output_candidate(tmp_path):
    t0 = time.monotonic()
    attack(tmp_path, "    print('x' * (500 << 20)); return a - b\n")
    assert time.monotonic() - t0 < 90


@pytest.mark.integration
def test_non_utf8_output_candidate(tmp_path):
    attack(tmp_path, "    __import__('sys').stdout.buffer.write(b'\\xff\\xfe\\x00'); return a - b\n")


@pytest.mark.integration
def test_concurrent_edit_race_keeps_the_users_bytes(tmp_path):
    target = make(tmp_path)
    mine = BUGGY.replace("def mul", "# the user's own edit\ndef mul").encode()

    def user_edits(prompt):
        target.write_bytes(mine)

    with pytest.raises(InputError, match="changed on disk"):
        fix(str(target), cfg(), apply=True, models=Models(generator=scripted(on_call=user_edits)))
    assert target.read_bytes() == mine


def test_flaky_failure_is_reported_not_patched(tmp_path):
    marker = tmp_path / "ran-once"  # outside the scratch copies, so the second run sees the first
    tests = ("import pathlib\nfrom calc import add\n\n\ndef test_flaky():\n"
             f"    marker = pathlib.Path({str(marker)!r})\n"
             "    first = not marker.exists()\n    marker.touch()\n    assert not first\n")
    target = make(tmp_path, source="def add(a, b):\n    return a + b\n", tests=tests)
    result = fix(str(target), cfg(sandbox="local"), models=Models(generator=scripted()))
    assert result.status == "flaky" and result.exit_code == 1
    assert result.tests["flaky"] == ["tests/test_calc.py::test_flaky"] and not result.diff


def test_the_probes_unmutated_run_is_the_second_look_at_a_flaky_failure(tmp_path, monkeypatch):
    """Where the mutation probe runs the failing tests, its unmutated run is the run that shows whether the
    failure reproduces: no test session of its own."""
    from debugger.workspace import Workspace
    marker = tmp_path / "ran-once"
    tests = ("import pathlib\nfrom calc import add\n\n\ndef test_flaky():\n"
             f"    marker = pathlib.Path({str(marker)!r})\n"
             "    first = not marker.exists()\n    marker.touch()\n    assert add(1, 2) == 3 and not first\n")
    target = make(tmp_path, source="def add(a, b):\n    total = a\n    total += b\n    return total\n", tests=tests)
    runs, run = [], Workspace.run
    monkeypatch.setattr(Workspace, "run", lambda self, *a, **k: runs.append(k) or run(self, *a, **k))
    events = []
    result = fix(str(target), cfg(sandbox="local"), models=Models(generator=scripted()), on_event=events.append)
    assert result.status == "flaky" and result.tests["flaky"] == ["tests/test_calc.py::test_flaky"]
    assert any(e.name == "mutation" and e.probe.run > 0 for e in events)  # the probe ran...
    assert [k for k in runs if k.get("select")] == []  # ...and no run of the failing tests alone


# -- the sandbox itself ------------------------------------------------------------------------------------
def run(cmd: str, tmp_path: Path, timeout: float = 30, limits: Limits | None = None, name: str = "auto"):
    work = tmp_path / "work" / "copy"
    work.mkdir(parents=True, exist_ok=True)
    return make_sandbox(name, limits).run(cmd, work, dict(os.environ), timeout)


def test_fork_bomb_is_stopped(tmp_path):
    # a capped bomb (2**11 processes at most) so that a broken watchdog cannot take the machine down
    bomb = f"{sys.executable} -c \"import os, time\nfor _ in range(11): os.fork()\ntime.sleep(30)\""
    t0 = time.monotonic()
    r = run(bomb, tmp_path, timeout=60, limits=Limits(processes=100))
    assert r.killed == "processes" and time.monotonic() - t0 < 30
    assert "more than 100 processes" in r.output


def test_memory_bomb_is_capped(tmp_path):
    hog = f"{sys.executable} -c \"x = []\nwhile True: x.append(bytearray(50 << 20))\""
    r = run(hog, tmp_path, limits=Limits(memory_bytes=1 << 30))
    assert r.returncode != 0 and "MemoryError" in r.output


def test_disk_filler_is_stopped(tmp_path):
    filler = (f"{sys.executable} -c \"import itertools\nfor i in itertools.count():\n"
              f"    open(f'f{{i}}', 'wb').write(b'0' * (8 << 20))\"")
    r = run(filler, tmp_path, limits=Limits(disk_bytes=200 << 20, file_bytes=16 << 20))
    assert r.killed == "disk"
    written = sum(f.stat().st_size for f in (tmp_path / "work" / "copy").iterdir())
    assert written < 1 << 30


def test_500_mb_of_output_is_capped(tmp_path):
    r = run("head -c 500000000 /dev/zero | tr '\\0' x", tmp_path, timeout=60)
    assert r.truncated and len(r.output) < 100_000 and not r.timed_out


@ISOLATED
def test_no_network(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(3)
    port = server.getsockname()[1]
    hits = []
    threading.Thread(target=lambda: hits.append(_accept(server)), daemon=True).start()
    probe = (f"{sys.executable} -c \"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), 2)\n"
             f"    print('CONNECTED')\nexcept OSError as e:\n    print('refused', e)\"")
    r = run(probe, tmp_path)
    time.sleep(0.5)
    assert "CONNECTED" not in r.output and hits in ([], [None])
    assert r.isolation == "bwrap"


def _accept(server):
    try:
        return server.accept()
    except OSError:
        return None


@ISOLATED
def test_outside_the_copy_is_read_only(tmp_path):
    victim = Path(__file__).parent / f".victim-{os.getpid()}.py"  # not under /tmp, which the sandbox replaces
    victim.write_text("precious\n")
    try:
        r = run(f"echo gone > {victim}; rm -f {victim}", tmp_path)
        assert victim.read_text() == "precious\n" and "Read-only" in r.output
    finally:
        victim.unlink()


@pytest.mark.integration
@ISOLATED
def test_grandchild_that_leaves_the_session_dies_with_the_run(tmp_path):
    marker = tmp_path / "work" / "alive"
    escape = (f"{sys.executable} -c \"import os, time\nif os.fork() == 0:\n    os.setsid()\n"
              f"    time.sleep(3)\n    open('{marker}', 'w').write('escaped')\n\" ; sleep 60")
    r = run(escape, tmp_path, timeout=1)
    assert r.timed_out
    time.sleep(4)
    assert not marker.exists()


# -- the user's file ----------------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("source", [
    BUGGY.replace("\n", "\r\n").encode(),
    b"\xef\xbb\xbf" + BUGGY.encode(),
    ("# -*- coding: cp1252 -*-\n# caf\xe9\n" + BUGGY).encode("cp1252"),
    BUGGY.rstrip("\n").encode(),
], ids=["crlf", "bom", "cp1252", "no-final-newline"])
def test_apply_is_byte_exact_outside_the_edit(tmp_path, source):
    target = make(tmp_path, source)
    os.chmod(target, 0o751)
    shift = 2 if b"cp1252" in source else 0

    result = fix(str(target), cfg(), apply=True, models=Models(generator=Scripted(2 + shift, [GOOD])))  # the encoding line moves it
    assert result.applied
    assert target.read_bytes() == source.replace(b"a - b", b"a + b")
    assert target.stat().st_mode & 0o7777 == 0o751


def test_symlink_leading_outside_the_project_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text(BUGGY)
    target = make(tmp_path)
    link = target.parent / "linked.py"
    link.symlink_to(outside)
    with pytest.raises(InputError, match="symlink leading outside"):
        fix(str(link), cfg(), apply=True, models=Models(generator=scripted()))
    assert outside.read_text() == BUGGY


@pytest.mark.parametrize("name", ["tests/test_calc.py", "conftest.py"])
def test_tests_and_config_are_never_the_target(tmp_path, name):
    target = make(tmp_path)
    path = target.parent / name
    if not path.exists():
        path.write_text("import pytest\n")
    before = path.read_bytes()
    with pytest.raises(InputError, match="test or configuration file"):
        fix(str(path), cfg(), models=Models(generator=scripted()))
    assert path.read_bytes() == before


@pytest.mark.integration
def test_ambiguous_identical_lines_only_the_localized_one_changes(tmp_path):
    source = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
    tests = "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_sub():\n" \
            "    assert sub(3, 2) == 1\n"
    target = make(tmp_path, source, tests)
    result = fix(str(target), cfg(), apply=True, models=Models(generator=scripted()))
    assert result.applied and target.read_text() == source.replace("a - b", "a + b", 1)


@pytest.mark.parametrize("data, message", [
    (b"\x7fELF\x00\x01binary", "looks binary"),
    (b"", "empty"),
    (b"x = 1\n" * 800_000, "too large"),
])
def test_binary_empty_and_huge_inputs(tmp_path, data, message):
    target = make(tmp_path, data)
    with pytest.raises(InputError, match=message):
        fix(str(target), cfg(), models=Models(generator=scripted()))
    assert target.read_bytes() == data


def test_merge_in_progress_refuses_to_write(tmp_path):
    target = make(tmp_path)
    (target.parent / ".git").mkdir()
    (target.parent / ".git" / "MERGE_HEAD").write_text("0" * 40 + "\n")
    with pytest.raises(InputError, match="a merge is in progress"):
        fix(str(target), cfg(), apply=True, models=Models(generator=scripted()))
    assert target.read_text() == BUGGY


@pytest.mark.integration
def test_undo_restores_exact_bytes_only_if_untouched(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("DEBUGGER_HOME", str(tmp_path / "home"))
    source = BUGGY.replace("\n", "\r\n").encode()
    target = make(tmp_path, source)
    assert fix(str(target), cfg(), apply=True, models=Models(generator=scripted())).applied
    code, out, err, data = cli("undo", str(target), "--json", env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 0 and data["status"] == "restored" and target.read_bytes() == source
    code, _, _, data = cli("undo", str(target), "--json", env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 2 and "nothing to undo" in data["error"]
    assert fix(str(target), cfg(), apply=True, models=Models(generator=scripted())).applied
    target.write_bytes(target.read_bytes() + b"# mine\r\n")
    mine = target.read_bytes()
    code, _, _, data = cli("undo", str(target), "--json", env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 2 and "changed since" in data["error"] and target.read_bytes() == mine


@pytest.mark.integration
def test_undo_keeps_a_read_only_file_and_its_mode(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("DEBUGGER_HOME", str(tmp_path / "home"))
    target = make(tmp_path)
    assert fix(str(target), cfg(), apply=True, models=Models(generator=scripted())).applied
    fixed_bytes = target.read_bytes()
    target.chmod(0o444)  # the user made it read-only after the fix
    code, _, err, _ = cli("undo", str(target), env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 2 and "read-only" in err and len(err.strip().splitlines()) == 1
    assert target.read_bytes() == fixed_bytes and target.stat().st_mode & 0o777 == 0o444
    target.chmod(0o640)  # writable again, with a mode of the user's choosing: undone, the mode kept
    code, _, err, _ = cli("undo", str(target), env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 0 and target.read_text() == BUGGY and target.stat().st_mode & 0o777 == 0o640


@pytest.mark.integration
def test_apply_refuses_a_fix_verified_against_other_tests_and_unreadable_records(project, cli, tmp_path):
    home = {"DEBUGGER_HOME": str(tmp_path / "home")}
    proj = project("calc")
    fake = ["--model", f"fake:{FIXTURES / 'calc_fixed.py'}", "--select", "0"]
    code, out, err, _ = cli("fix", "calc.py", *fake, cwd=proj, env=home)
    assert code == 0, err
    tests = proj / "tests" / "test_calc.py"
    original = tests.read_text()
    tests.write_text(original.replace("== 12", "== 7"))  # another branch, an edit: not what the fix passed
    code, out, err, _ = cli("apply", "calc.py", cwd=proj, env=home)
    assert code == 2 and "tests/test_calc.py" in err and len(err.strip().splitlines()) == 1, err
    assert (proj / "calc.py").read_text() == (FIXTURES / "calc" / "calc.py").read_text()
    tests.write_text(original)
    (record,) = (tmp_path / "home" / "verified").glob("*.json")
    kept = record.read_text()
    for corrupt in ("{not json", '{"path": 3}', kept.replace('"after": "', '"after": "@@')):
        record.write_text(corrupt)
        code, out, err, _ = cli("apply", "calc.py", cwd=proj, env=home)
        assert code == 2 and "cannot be read" in err and len(err.strip().splitlines()) == 1, (corrupt[:20], err)
    record.write_text(kept)
    code, out, err, _ = cli("apply", "calc.py", cwd=proj, env=home)
    assert code == 0, err
    assert (proj / "calc.py").read_bytes() == (FIXTURES / "calc_fixed.py").read_bytes()
    (undo,) = (tmp_path / "home" / "undo").glob("*.json")
    undo.write_text('{"before": "not base64!", "after_sha256": 1}')
    code, out, err, _ = cli("undo", "calc.py", cwd=proj, env=home)
    assert code == 2 and "cannot be read" in err and len(err.strip().splitlines()) == 1, err


def test_ctrl_c_leaves_no_temp_files_or_children(tmp_path, project):
    root = project("calc")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    pids = tmp_path / "pids"
    (root / "tests" / "conftest.py").write_text(
        f"import os, time\n\ndef pytest_sessionstart(session):\n    open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "    time.sleep(30)\n")
    before = (root / "calc.py").read_bytes()
    env = dict(os.environ, TMPDIR=str(tmp))
    p = subprocess.Popen([sys.executable, "-m", "debugger.cli", "fix", str(root / "calc.py"), "--model",
                          "fake:" + str(Path(__file__).parent / "fixtures" / "calc_fixed.py"), "--apply",
                          "--sandbox", "local"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         # a CI job started with `&` ignores SIGINT, and children inherit that: restore it
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not pids.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pids.exists(), "the test run never started"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert list(tmp.iterdir()) == []
    for pid in map(int, pids.read_text().split()):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert (root / "calc.py").read_bytes() == before


def test_local_sandbox_says_it_isolates_nothing(tmp_path):
    r = LocalSandbox().run("true", tmp_path, dict(os.environ), 10)
    assert r.isolation == "none" and r.returncode == 0


# -- secrets and the model supply chain --------------------------------------------------------------------
def test_eval_results_on_disk_carry_no_secrets(tmp_path, monkeypatch):
    from debugger.eval import runner
    from debugger.eval.tasks import Task
    leaked = 'API_KEY = "sk-live-abcdefghijklmnopqrstuv"'
    monkeypatch.setattr(runner, "run_pair", lambda task, config, **kw: {"task": task.id, "config": config,
                                                                     "diff": f"+{leaked}\n", "error": leaked})
    monkeypatch.setattr(runner, "provenance", lambda configs, out=None: {})
    runner.run([Task("t1", tmp_path, "x.py", "true")], ["default"], tmp_path / "run")
    text = (tmp_path / "run" / "results.jsonl").read_text()
    assert "sk-live" not in text and "<redacted>" in text


def _tiny_tokenizer(where: Path, template: str):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast
    t = Tokenizer(WordLevel({"<unk>": 0, "hello": 1}, unk_token="<unk>"))
    t.pre_tokenizer = Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<unk>")
    tok.chat_template = template
    tok.save_pretrained(where)
    return tok


def test_malicious_chat_template_is_refused(tmp_path):
    from debugger.engines.hf import render_chat
    sentinel = tmp_path / "pwned"
    evil = ("{{ cycler.__init__.__globals__.os.system('touch " + str(sentinel) + "') }}"
            "{% for m in messages %}{{ m.content }}{% endfor %}")
    tok = _tiny_tokenizer(tmp_path / "tok", evil)
    with pytest.raises(ValueError, match="unsafe operation"):
        render_chat(tok, [{"role": "user", "content": "hello"}])
    assert not sentinel.exists()
    plain = _tiny_tokenizer(tmp_path / "ok", "{% for m in messages %}{{ m.content }}{% endfor %}")
    assert render_chat(plain, [{"role": "user", "content": "hello"}]) == "hello"


class _Evil:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.integration
def test_pickle_weights_are_never_loaded(tmp_path):
    import pickle

    from transformers import Qwen2Config

    from debugger.engines.specs import load_hf
    model_dir = tmp_path / "model"
    _tiny_tokenizer(model_dir, "{{ messages }}")
    Qwen2Config(vocab_size=8, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1).save_pretrained(model_dir)
    sentinel = tmp_path / "unpickled"
    (model_dir / "pytorch_model.bin").write_bytes(pickle.dumps(_Evil(str(sentinel))))
    with pytest.raises(Exception):  # noqa: B017 - whatever refuses it, the pickle must not run
        load_hf(str(model_dir))
    assert not sentinel.exists()


@ISOLATED
def test_the_sandbox_shows_only_what_a_test_needs(tmp_path):
    # a virtualenv the command names is there, wherever it lives (CI clones and venvs may live under /tmp) ...
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    (venv / "pyvenv.cfg").write_text(f"home = {os.path.dirname(os.path.realpath(sys.executable))}\n")
    # ... another project, a key in it, and the user's home are not
    other = tmp_path / "other-project"
    other.mkdir()
    (other / "id_ed25519").write_text("PRIVATE KEY\n")
    script = ("import os, sys, tempfile\n"
              f"print('venv', os.path.exists({str(venv / 'pyvenv.cfg')!r}))\n"
              f"print('other', os.path.exists({str(other / 'id_ed25519')!r}))\n"
              "home = os.path.expanduser('~')\n"
              "print('home', sorted(os.listdir(home)) if os.path.isdir(home) else [])\n"
              "print('tmp', tempfile.mkstemp()[1])\n")
    (tmp_path / "work" / "copy").mkdir(parents=True, exist_ok=True)
    (tmp_path / "work" / "copy" / "see.py").write_text(script)
    r = run(f"{venv / 'bin' / 'python'} see.py", tmp_path)
    assert r.returncode == 0, r.output
    assert "venv True" in r.output and "other False" in r.output
    assert str(tmp_path / "work" / "tmp") in r.output  # temp files work, in the run's own TMPDIR
    from debugger.sandbox import view
    shown = view(f"{venv / 'bin' / 'python'} see.py", os.environ.get("PATH", ""))
    seen = eval(next(ln for ln in r.output.splitlines() if ln.startswith("home "))[5:])
    home = os.path.expanduser("~")
    for entry in seen:  # only folders on the way to a Python environment the run needs
        assert any(p.startswith(os.path.join(home, entry)) for p in shown), (entry, shown)
    assert str(venv) in shown and not any(p.startswith(str(other)) for p in shown)
    # a bare `python` through a version manager's shim (pyenv): its root is shown, the shim works
    pyenv = tmp_path / "pyenv"
    (pyenv / "libexec").mkdir(parents=True)
    (pyenv / "shims").mkdir()
    (pyenv / "libexec" / "pyenv").write_text(f"#!/bin/sh\nexec {os.path.realpath(sys.executable)} \"$@\"\n")
    (pyenv / "shims" / "python").write_text(f"#!/bin/sh\nexec {pyenv / 'libexec' / 'pyenv'} \"$@\"\n")
    for f in (pyenv / "libexec" / "pyenv", pyenv / "shims" / "python"):
        f.chmod(0o755)
    env = dict(os.environ, PATH=f"{pyenv / 'shims'}:{os.environ.get('PATH', '')}")
    r = make_sandbox().run("python -c 'print(40 + 2)'", tmp_path / "work" / "copy", env, 30)
    assert r.returncode == 0 and "42" in r.output, r.output


# -- the project under repair is untrusted: its settings tune the search, nothing else ---------------------

def _settings(proj: Path, text: str) -> None:
    path = proj / "pyproject.toml"
    path.write_text(path.read_text() + "\n[tool.debugger]\n" + text)


MARKER_TEST = "touch ran.marker && python -m pytest -q"  # a refusal before any test run leaves no marker


def _refused_early(code, err, proj, *words):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert all(w in lines[0] for w in words), err
    assert not (proj / "ran.marker").exists(), "a test ran before the refusal"


def test_project_cannot_send_code_and_key_to_an_endpoint(project, cli):
    got = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)

    def accept():
        try:
            conn, _ = srv.accept()
            got.append(conn.recv(65536))
        except OSError:
            pass
    t = threading.Thread(target=accept)
    t.start()
    proj = project("calc")
    _settings(proj, f'model = "openai:http://127.0.0.1:{srv.getsockname()[1]}/v1#m"\n')
    code, out, err, _ = cli("fix", "calc.py", "--test", MARKER_TEST, cwd=proj, env={"OPENAI_API_KEY": "sk-secret"})
    t.join()
    srv.close()
    _refused_early(code, err, proj, "model", "config.toml", "--model")
    assert got == []


def test_api_key_never_goes_over_plain_http_to_another_host(project, cli):
    proj = project("calc")
    code, out, err, _ = cli("fix", "calc.py", "--test", MARKER_TEST, "--model", "openai:http://example.invalid/v1#m",
                            cwd=proj, env={"OPENAI_API_KEY": "sk-secret"})
    _refused_early(code, err, proj, "OPENAI_API_KEY", "plain http")
    from debugger.engines.endpoint import OpenAIGenerator
    sent = []

    class Capture(OpenAIGenerator):  # defence in depth: the generator itself leaves the header off
        def _post(self, path, body):
            import urllib.request
            real = urllib.request.urlopen
            urllib.request.urlopen = lambda req, timeout: sent.append(req.headers) or (_ for _ in ()).throw(OSError())
            try:
                return super()._post(path, body)
            finally:
                urllib.request.urlopen = real
    os.environ["OPENAI_API_KEY"] = "sk-secret"
    try:
        with pytest.raises(InputError):
            Capture("http://example.invalid/v1#m")._post("/completions", {})
        with pytest.raises(InputError):
            Capture("http://127.0.0.1:9/v1#m")._post("/completions", {})
    finally:
        del os.environ["OPENAI_API_KEY"]
    assert "Authorization" not in sent[0] and sent[1]["Authorization"] == "Bearer sk-secret"


def test_project_cannot_choose_a_file_to_write(project, cli, tmp_path):
    proj = project("calc")
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("# mine\n")
    _settings(proj, f'record = "{bashrc}"\n')
    code, out, err, _ = cli("fix", "calc.py", "--apply", "--model", f"fake:{FIXTURES / 'calc_fixed.py'}",
                            "--test", MARKER_TEST, cwd=proj)
    _refused_early(code, err, proj, "record")
    assert bashrc.read_text() == "# mine\n"


@pytest.mark.integration
def test_project_cannot_switch_the_sandbox_off_but_the_user_can(project, cli, tmp_path):
    proj = project("calc")
    _settings(proj, 'sandbox = "local"\n')
    code, out, err, _ = cli("fix", "calc.py", "--test", MARKER_TEST, cwd=proj)
    _refused_early(code, err, proj, "sandbox")
    (proj / "pyproject.toml").write_text((FIXTURES / "calc" / "pyproject.toml").read_text())
    xdg = tmp_path / "xdg"
    (xdg / "debugger").mkdir(parents=True)
    (xdg / "debugger" / "config.toml").write_text('sandbox = "local"\nsamples = 0\n')
    code, out, err, data = cli("fix", "calc.py", "--json", "--model", f"fake:{FIXTURES / 'calc_fixed.py'}",
                               cwd=proj, env={"XDG_CONFIG_HOME": str(xdg)})
    assert code == 0 and data["sandbox"] == "none", err


def test_project_cannot_load_weights_from_outside_it(project, cli, tmp_path):
    proj = project("calc")
    elsewhere = tmp_path / "adapter"
    elsewhere.mkdir()
    (elsewhere / "adapter_config.json").write_text("{}")
    _settings(proj, f'adapter = "{elsewhere}"\n')
    code, out, err, _ = cli("fix", "calc.py", "--test", MARKER_TEST, cwd=proj)
    _refused_early(code, err, proj, "adapter")
    (proj / "pyproject.toml").write_text((FIXTURES / "calc" / "pyproject.toml").read_text())
    _settings(proj, 'model = "someone/their-model"\n')
    code, out, err, _ = cli("fix", "calc.py", "--test", MARKER_TEST, cwd=proj)
    _refused_early(code, err, proj, "model")


@pytest.mark.integration
def test_an_in_project_model_is_the_projects_file_whatever_the_cwd(project, cli, tmp_path, monkeypatch):
    from debugger.config import resolve
    from debugger.engines.specs import kind_of
    proj = project("calc")
    (proj / "fixed.py").write_text((FIXTURES / "calc_fixed.py").read_text())
    _settings(proj, 'model = "fake:fixed.py"\nselect = 0\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "fixed.py").write_text((FIXTURES / "calc_fixed.py").read_text().replace("a * b", "a ** b // a"))
    for cwd in (elsewhere, Path("/")):
        code, out, err, data = cli("fix", str(proj / "calc.py"), "--json", cwd=cwd)
        assert code == 0 and "+    return a * b" in data["diff"], (cwd, err, data)
        assert data["model"] == f"fake:{proj / 'fixed.py'}"
    # a folder named like a hub id is a folder of the project, never a download
    (proj / "pyproject.toml").write_text((FIXTURES / "calc" / "pyproject.toml").read_text())
    _settings(proj, 'model = "someone/their-model"\n')
    (proj / "someone" / "their-model").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    cfg = resolve(proj)
    assert cfg.model == str(proj / "someone" / "their-model") and kind_of(cfg.model) == "dir"
    _settings(proj, 'model = "nowhere/at-all"\n')
    with pytest.raises(InputError, match="model"):
        resolve(proj)


def test_project_may_tune_the_search(project):
    from debugger.config import resolve
    proj = project("calc")
    _settings(proj, 'samples = 1\nrounds = 0\nformats = ["infill"]\nengine = "transformers"\nthreads = 1\n'
                    'model = "qwen2.5-coder-1.5b"\nadapter = "none"\nsandbox = "auto"\n')
    cfg = resolve(proj)
    assert (cfg.samples, cfg.rounds, cfg.formats, cfg.engine, cfg.model) == (1, 0, ["infill"], "transformers",
                                                                             "qwen2.5-coder-1.5b")
    (proj / "pyproject.toml").write_text((FIXTURES / "calc" / "pyproject.toml").read_text())
    _settings(proj, "threads = 4096\n")
    with pytest.raises(InputError, match="threads"):
        resolve(proj)


@pytest.mark.parametrize("setting, words", [
    ('samples = "three"', ("samples", "whole number")),
    ("top_k = -4", ("top_k", "between")),
    ('formats = "infill,bogus"', ("bogus",)),
    ("surprisal = 1", ("surprisal", "true or false")),
    ("budget = 0", ("budget", "between")),
    ('weights = {spectrum = "high"}', ("weights", "finite numbers")),
    ("weights = {spectrum = nan}", ("weights", "finite numbers")),
    ("weights = {spectrum = inf}", ("weights", "finite numbers")),
])
def test_bad_project_settings_fail_in_one_line_before_any_test(project, cli, setting, words):
    proj = project("calc")
    _settings(proj, setting + "\n")
    code, out, err, _ = cli("fix", "calc.py", "--test", MARKER_TEST, cwd=proj)
    _refused_early(code, err, proj, *words)
    code, out, err, data = cli("fix", "calc.py", "--test", MARKER_TEST, "--json", cwd=proj)
    assert code == 2 and data["status"] == "error" and words[0] in data["error"]


@pytest.mark.parametrize("flags, words", [
    (["--timeout", "0"], ("timeout",)), (["--timeout", "-1"], ("timeout",)), (["--budget", "0"], ("budget",)),
    (["--test-timeout", "0"], ("test_timeout",)), (["--adapter", "/nonexistent"], ("/nonexistent", "adapter")),
    (["--record"], ("--record", "--apply")), (["--engine", "vllm"], ("engine",)),
])
def test_bad_flags_fail_in_one_line_before_any_test(project, cli, flags, words):
    proj = project("calc")
    code, out, err, _ = cli("fix", "calc.py", "--test", MARKER_TEST, *flags, cwd=proj)
    _refused_early(code, err, proj, *words)


def test_a_test_file_that_does_not_exist_is_bad_input(project, cli):
    proj = project("calc")
    code, out, err, data = cli("fix", "calc.py", "--test", "python -m pytest tests/test_nothere.py", "--json",
                               "--model", f"fake:{FIXTURES / 'calc_fixed.py'}", cwd=proj)
    assert code == 2 and "no such test file: tests/test_nothere.py" in data["error"], (out, err)
    assert "engine" not in data  # stopped before the model was asked for anything


def test_a_file_outside_any_project_is_refused(tmp_path, cli):
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "big.bin").write_bytes(os.urandom(1 << 20))
    (loose / "calc.py").write_text(BUGGY)
    (loose / "test_calc.py").write_text(TESTS)
    code, out, err, _ = cli("fix", "calc.py", cwd=loose)
    assert code == 2 and "--root" in err and len(err.strip().splitlines()) == 1, err
    code, out, err, _ = cli("localize", "calc.py", cwd=loose)
    assert code == 2 and "--root" in err, err


def test_a_read_only_target_is_not_replaced(project, cli):
    proj = project("calc")
    target = proj / "calc.py"
    before = target.read_bytes()
    target.chmod(0o444)
    code, out, err, _ = cli("fix", "calc.py", "--apply", "--test", MARKER_TEST,
                            "--model", f"fake:{FIXTURES / 'calc_fixed.py'}", cwd=proj)
    _refused_early(code, err, proj, "read-only")
    assert target.read_bytes() == before


def test_files_pytest_collects_by_the_projects_own_patterns_are_tests(tmp_path, cli):
    proj = tmp_path / "p"
    (proj / "checks").mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[tool.pytest.ini_options]\npython_files = ["check_*.py"]\n'
                                         'pythonpath = ["."]\n')
    (proj / "calc.py").write_text(BUGGY)
    (proj / "checks" / "check_mod.py").write_text(TESTS)
    code, out, err, _ = cli("fix", "checks/check_mod.py", "--test", MARKER_TEST, cwd=proj)
    _refused_early(code, err, proj, "test or configuration file")


def test_localize_checks_its_arguments_first_and_says_when_nothing_fails(project, cli, tmp_path):
    proj = project("calc")
    code, out, err, _ = cli("localize", "calc.py", "--test", MARKER_TEST, "--formula", "bogus", cwd=proj)
    _refused_early(code, err, proj, "formula")
    code, out, err, _ = cli("localize", "calc.py", "--test", MARKER_TEST, "--html",
                            str(tmp_path / "no" / "such" / "dir" / "x.html"), cwd=proj)
    _refused_early(code, err, proj, "x.html")
    (proj / "calc.py").write_text((FIXTURES / "calc_fixed.py").read_text())
    code, out, err, _ = cli("localize", "calc.py", cwd=proj)
    assert code == 0 and "pass" in out and "nothing to localize" in out, (out, err)


@pytest.mark.integration
def test_eval_takes_task_ids_that_group_tasks(tmp_path):
    from debugger.eval import runner, tasks
    from conftest import fixed as fixed_file
    bench = tmp_path / "bench"
    tasks.write_task(bench, tasks.Task("calc", "calc.py", tasks.PYTEST, fix_lines=[6, 6]), FIXTURES / "calc")
    (t,) = tasks.load_bench(bench)
    t.id = "suite/calc"
    rows = runner.run([t], ["default"], tmp_path / "run", time_limit=120,
                      extra=["--model", f"fake:{fixed_file('calc')}", "--samples", "0"])
    assert rows[0]["task"] == "suite/calc" and rows[0]["fixed"], rows


def _hook_repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "t@t"], ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\necho mine >> \"$(git rev-parse --show-toplevel)/mine.log\"\n")
    (hooks / "pre-commit").chmod(0o755)
    return repo


@pytest.mark.parametrize("order", ["debugger-first", "pre-commit-first"])
def test_hook_and_the_pre_commit_framework_keep_every_hook_in_both_orders(tmp_path, order):
    import shutil
    precommit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    if not Path(precommit).exists():
        pytest.skip("pre-commit is not installed")
    repo = _hook_repo(tmp_path)
    ours = [sys.executable, "-m", "debugger.cli", "hook"]
    steps = [ours + ["install"], [precommit, "install"]]
    for cmd in steps if order == "debugger-first" else steps[::-1]:
        p = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    (repo / "README").write_text("x\n")
    subprocess.run(["git", "add", "README", ".pre-commit-config.yaml"], cwd=repo, check=True)
    p = subprocess.run(["git", "commit", "-qm", "one"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (repo / "mine.log").read_text() == "mine\n"  # the user's hook ran, once: nothing lost, no loop
    p = subprocess.run(ours + ["uninstall"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "uninstalled" in p.stdout, (p.stdout, p.stderr)
    (repo / "README").write_text("y\n")
    subprocess.run(["git", "add", "README"], cwd=repo, check=True)
    p = subprocess.run(["git", "commit", "-qm", "two"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (repo / "mine.log").read_text() == "mine\nmine\n"  # still there after uninstall
