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

from repair.config import FixConfig
from repair.generate import Completion
from repair.pipeline import fix
from repair.sandbox import Limits, LocalSandbox, isolation, make_sandbox
from repair.screen import screen
from repair.source import InputError

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = ("from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
         "def test_mul():\n    assert mul(3, 4) == 12\n")
GOOD = "    return a + b\n"
ISOLATED = pytest.mark.skipif(isolation() != "bwrap" and not os.environ.get("DEBUGGER_REQUIRE_ISOLATION"),
                              reason="needs bubblewrap (CI installs it and sets DEBUGGER_REQUIRE_ISOLATION)")


class Scripted:
    """Answers an infill of line 2 with each attack, then the real fix; anything else with the original."""
    name = "scripted"

    def __init__(self, *attacks: str, on_call=None):
        self.answers = [*attacks, GOOD]
        self.on_call = on_call

    def complete(self, prompt, samples, temperature, greedy=True):
        if self.on_call:
            self.on_call(prompt)
        if prompt.kind == "infill" and prompt.start_line == 2 and greedy:
            return [Completion(a + "<|endoftext|>", 5, i == 0) for i, a in enumerate(self.answers)]
        return [Completion(prompt.original + "<|endoftext|>", 1, True)]


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
    result = fix(str(target), cfg(**kw), generator=Scripted(*candidates))
    assert target.read_bytes() == before
    assert result.status == "fixed", result
    assert "+    return a + b" in result.diff
    return result


# -- candidates that game the tests: refused before they run ----------------------------------------------
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
def test_hanging_candidate(tmp_path):
    result = attack(tmp_path, "    while True:\n        pass\n")
    assert result.candidates["validated"] == 2


def test_hang_in_a_fixture(tmp_path):
    tests = ("import pytest\nfrom calc import add, mul\n\n\n@pytest.fixture\ndef five():\n    return add(2, 3)\n\n\n"
             "def test_add(five):\n    assert five == 5\n\n\ndef test_mul():\n    assert mul(3, 4) == 12\n")
    target = make(tmp_path, tests=tests)
    t0 = time.monotonic()
    result = fix(str(target), cfg(), generator=Scripted("    while True:\n        a += 0\n"))
    assert result.status == "fixed" and time.monotonic() - t0 < 60
    assert target.read_text() == BUGGY


def test_memory_bomb_candidate(tmp_path):
    attack(tmp_path, "    return len(bytearray(1 << 40)) + a + b\n")


def test_huge_output_candidate(tmp_path):
    t0 = time.monotonic()
    attack(tmp_path, "    print('x' * (500 << 20)); return a - b\n")
    assert time.monotonic() - t0 < 90


def test_non_utf8_output_candidate(tmp_path):
    attack(tmp_path, "    __import__('sys').stdout.buffer.write(b'\\xff\\xfe\\x00'); return a - b\n")


def test_concurrent_edit_race_keeps_the_users_bytes(tmp_path):
    target = make(tmp_path)
    mine = BUGGY.replace("def mul", "# the user's own edit\ndef mul").encode()

    def user_edits(prompt):
        target.write_bytes(mine)

    with pytest.raises(InputError, match="changed on disk"):
        fix(str(target), cfg(), apply=True, generator=Scripted(on_call=user_edits))
    assert target.read_bytes() == mine


def test_flaky_failure_is_reported_not_patched(tmp_path):
    marker = tmp_path / "ran-once"  # outside the scratch copies, so the second run sees the first
    tests = ("import pathlib\nfrom calc import add\n\n\ndef test_flaky():\n"
             f"    marker = pathlib.Path({str(marker)!r})\n"
             "    first = not marker.exists()\n    marker.touch()\n    assert not first\n")
    target = make(tmp_path, source="def add(a, b):\n    return a + b\n", tests=tests)
    result = fix(str(target), cfg(sandbox="local"), generator=Scripted())
    assert result.status == "flaky" and result.exit_code == 1
    assert result.tests["flaky"] == ["tests/test_calc.py::test_flaky"] and not result.diff


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

    class Shifted(Scripted):
        def complete(self, prompt, samples, temperature, greedy=True):
            hit = prompt.kind == "infill" and prompt.start_line == 2 + shift
            return [Completion((GOOD if hit else prompt.original) + "<|endoftext|>", 1, True)]

    result = fix(str(target), cfg(), apply=True, generator=Shifted())
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
        fix(str(link), cfg(), apply=True, generator=Scripted())
    assert outside.read_text() == BUGGY


@pytest.mark.parametrize("name", ["tests/test_calc.py", "conftest.py"])
def test_tests_and_config_are_never_the_target(tmp_path, name):
    target = make(tmp_path)
    path = target.parent / name
    if not path.exists():
        path.write_text("import pytest\n")
    before = path.read_bytes()
    with pytest.raises(InputError, match="test or configuration file"):
        fix(str(path), cfg(), generator=Scripted())
    assert path.read_bytes() == before


def test_ambiguous_identical_lines_only_the_localized_one_changes(tmp_path):
    source = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
    tests = "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_sub():\n" \
            "    assert sub(3, 2) == 1\n"
    target = make(tmp_path, source, tests)
    result = fix(str(target), cfg(), apply=True, generator=Scripted())
    assert result.applied and target.read_text() == source.replace("a - b", "a + b", 1)


@pytest.mark.parametrize("data, message", [
    (b"\x7fELF\x00\x01binary", "looks binary"),
    (b"", "empty"),
    (b"x = 1\n" * 800_000, "too large"),
])
def test_binary_empty_and_huge_inputs(tmp_path, data, message):
    target = make(tmp_path, data)
    with pytest.raises(InputError, match=message):
        fix(str(target), cfg(), generator=Scripted())
    assert target.read_bytes() == data


def test_merge_in_progress_refuses_to_write(tmp_path):
    target = make(tmp_path)
    (target.parent / ".git").mkdir()
    (target.parent / ".git" / "MERGE_HEAD").write_text("0" * 40 + "\n")
    with pytest.raises(InputError, match="a merge is in progress"):
        fix(str(target), cfg(), apply=True, generator=Scripted())
    assert target.read_text() == BUGGY


def test_undo_restores_exact_bytes_only_if_untouched(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("DEBUGGER_HOME", str(tmp_path / "home"))
    source = BUGGY.replace("\n", "\r\n").encode()
    target = make(tmp_path, source)
    assert fix(str(target), cfg(), apply=True, generator=Scripted()).applied
    code, out, err, data = cli("undo", str(target), "--json", env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 0 and data["status"] == "restored" and target.read_bytes() == source
    code, _, _, data = cli("undo", str(target), "--json", env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 2 and "nothing to undo" in data["error"]
    assert fix(str(target), cfg(), apply=True, generator=Scripted()).applied
    target.write_bytes(target.read_bytes() + b"# mine\r\n")
    mine = target.read_bytes()
    code, _, _, data = cli("undo", str(target), "--json", env={"DEBUGGER_HOME": str(tmp_path / "home")})
    assert code == 2 and "changed since" in data["error"] and target.read_bytes() == mine


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
    p = subprocess.Popen([sys.executable, "-m", "repair.cli", "fix", str(root / "calc.py"), "--model",
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
    from eval import runner
    from eval.tasks import Task
    leaked = 'API_KEY = "sk-live-abcdefghijklmnopqrstuv"'
    monkeypatch.setattr(runner, "run_pair", lambda task, config, **kw: {"task": task.id, "config": config,
                                                                     "diff": f"+{leaked}\n", "error": leaked})
    monkeypatch.setattr(runner, "provenance", lambda configs: {})
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
    from repair.hf_generator import render_chat
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


def test_pickle_weights_are_never_loaded(tmp_path):
    import pickle

    from transformers import Qwen2Config

    from repair.models import load_hf
    model_dir = tmp_path / "model"
    _tiny_tokenizer(model_dir, "{{ messages }}")
    Qwen2Config(vocab_size=8, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1).save_pretrained(model_dir)
    sentinel = tmp_path / "unpickled"
    (model_dir / "pytorch_model.bin").write_bytes(pickle.dumps(_Evil(str(sentinel))))
    with pytest.raises(Exception):
        load_hf(str(model_dir))
    assert not sentinel.exists()


@ISOLATED
def test_tools_and_projects_under_tmp_stay_visible_and_tempfiles_work(tmp_path):
    # CI clones (and venvs) may live under /tmp: the sandbox must not hide it behind a tmpfs
    outside = tmp_path / "venv-like" / "tool.txt"
    outside.parent.mkdir()
    outside.write_text("visible\n")
    r = run(f"cat {outside} && {sys.executable} -c \"import tempfile; print(tempfile.mkstemp()[1])\"", tmp_path)
    assert r.returncode == 0, r.output
    assert "visible" in r.output and str(tmp_path / "work" / "tmp") in r.output
