"""The pre-commit hook, driven through a real temporary git repository."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURES, fixed
from debugger import hook


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo"
    shutil.copytree(FIXTURES / "calc", r)
    (r / "calc.py").write_bytes(fixed("calc").read_bytes())
    git(r, "init", "-q")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    git(r, "add", "-A")
    git(r, "commit", "-qm", "init")
    return r


def hook_cli(repo, *args, env=None):
    p = subprocess.run([sys.executable, "-m", "debugger.cli", "hook", *args], cwd=repo, capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})), timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_related_tests_by_name_and_import(repo):
    (repo / "tests" / "test_other.py").write_text("import os\n\ndef test_x():\n    pass\n")
    git(repo, "add", "-A")
    assert hook.related_tests(repo, ["calc.py"]) == ["tests/test_calc.py"]
    assert hook.related_tests(repo, ["tests/test_other.py"]) == ["tests/test_other.py"]
    cache = repo / ".git" / "debugger" / "testmap.json"
    assert cache.is_file() and "tests/test_calc.py" in cache.read_text()


def test_clean_commit_passes_without_a_model(repo):
    (repo / "calc.py").write_text(fixed("calc").read_text() + "\n\ndef neg(x):\n    return -x\n")
    git(repo, "add", "calc.py")
    code, out, err = hook_cli(repo, "run", "--check", "--model", "fake:/nope.py")
    assert code == 0 and "pass" in out


@pytest.mark.integration
def test_broken_staged_content_suggests_and_keeps_unstaged_hunks(repo):
    good = fixed("calc").read_text()
    broken = good.replace("return a * b", "return a + b")
    (repo / "calc.py").write_text(broken)
    git(repo, "add", "calc.py")
    # then an unstaged edit on top, which the hook must neither test nor touch
    worktree = broken + "\n\n# work in progress, not staged\n"
    (repo / "calc.py").write_text(worktree)
    fake = ["--model", f"fake:{fixed('calc')}"]
    code, out, err = hook_cli(repo, "run", *fake)
    assert code == 0  # suggest mode never blocks
    assert "related test(s) fail" in out and "+    return a * b" in out and "debugger fix calc.py --apply" in out
    assert (repo / "calc.py").read_text() == worktree
    assert git(repo, "diff", "--cached", "--name-only").split() == ["calc.py"]
    code, out, err = hook_cli(repo, "run", "--check", *fake)
    assert code == 1
    assert (repo / "calc.py").read_text() == worktree


@pytest.mark.integration
def test_syntax_error_blocks_in_check_mode(repo):
    (repo / "calc.py").write_text(fixed("calc").read_text().replace("def add(a, b):", "def add(a, b)"))
    git(repo, "add", "calc.py")
    code, out, _ = hook_cli(repo, "run", "--check", "--model", f"fake:{fixed('calc')}")
    assert code == 1 and "syntax error" in out
    code, _, _ = hook_cli(repo, "run", "--model", f"fake:{fixed('calc')}")
    assert code == 0


def test_budget_is_reported(repo):
    (repo / "calc.py").write_text(fixed("calc").read_text().replace("return a * b", "return a + b"))
    git(repo, "add", "calc.py")
    code, out, _ = hook_cli(repo, "run", "--budget", "1", "--model", f"fake:{fixed('calc')}")
    assert code == 0 and "budget" in out


@pytest.mark.integration
def test_install_uninstall_round_trips_an_existing_hook(repo):
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    original = "#!/bin/sh\necho legacy-ran >> legacy.log\n"
    (hooks / "pre-commit").write_text(original)
    (hooks / "pre-commit").chmod(0o755)
    code, out, _ = hook_cli(repo, "install", "--check")
    assert code == 0 and (hooks / "pre-commit.debugger-saved").read_text() == original
    assert hook.MARK in (hooks / "pre-commit").read_text()
    # a real commit runs both: the legacy hook, then ours (clean change: the commit goes through)
    (repo / "README").write_text("x\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "readme")
    assert (repo / "legacy.log").read_text() == "legacy-ran\n"
    # a broken commit is refused by the check-mode hook
    (repo / "calc.py").write_text(fixed("calc").read_text().replace("def add(a, b):", "def add(a, b)"))
    git(repo, "add", "calc.py")
    p = subprocess.run(["git", "commit", "-qm", "broken"], cwd=repo, capture_output=True, text=True)
    assert p.returncode != 0
    code, out, _ = hook_cli(repo, "uninstall")
    assert code == 0 and (hooks / "pre-commit").read_text() == original
    assert not (hooks / "pre-commit.debugger-saved").exists()


def test_install_refuses_core_hooks_path(repo):
    git(repo, "config", "core.hooksPath", ".githooks")
    code, _, err = hook_cli(repo, "install")
    assert code == 2 and "core.hooksPath" in err
    code, out, _ = hook_cli(repo, "install", "--force")
    assert code == 0 and (repo / ".githooks" / "pre-commit").is_file()


def test_outside_a_repo(tmp_path):
    code, _, err = hook_cli(tmp_path, "run")
    assert code == 2 and "not inside a git repository" in err


@pytest.mark.integration
def test_pre_commit_try_repo(repo):
    """The hooks as the pre-commit framework installs and runs them, from this repository."""
    pre_commit = shutil.which("pre-commit") or os.path.join(os.path.dirname(sys.executable), "pre-commit")
    if not os.path.exists(pre_commit):
        pytest.skip("pre-commit is not installed (pip install 'debugger[dev]')")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PRE_COMMIT_HOME=str(repo.parent / "pc-home"))
    (repo / "calc.py").write_text(fixed("calc").read_text().replace("def add(a, b):", "def add(a, b)"))
    git(repo, "add", "calc.py")
    check = subprocess.run([pre_commit, "try-repo", here, "debugger-check", "--verbose"], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=900)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "syntax error in staged calc.py" in check.stdout
    suggest = subprocess.run([pre_commit, "try-repo", here, "debugger-suggest", "--verbose"], cwd=repo, env=env,
                             capture_output=True, text=True, timeout=900)
    assert suggest.returncode == 0, suggest.stdout + suggest.stderr
    assert (repo / "calc.py").read_text().count("def add(a, b)\n") == 1  # nothing was modified


def test_a_staged_test_files_name_is_never_run_as_shell(repo):
    name = "tests/test_q;sleep 7;.py"  # unquoted, the shell would run `sleep 7` and then fail on `.py`
    (repo / name).write_text("def test_q():\n    assert True\n")
    git(repo, "add", "-A")
    result = hook.run(repo, repair=False, test=f"{sys.executable} -m pytest -q")
    assert name in result.tests and result.failing == [] and result.test_seconds < 6
