"""`debugger apply FILE`: the diff `debugger fix` showed, written later exactly, never recomputed, never onto
bytes it was not validated against."""
import os
import stat
import sys
import pytest

from conftest import fixed


def fake(name):
    return f"fake:{fixed(name)}"


@pytest.mark.integration
def test_apply_writes_the_reviewed_fix_exactly_without_repairing_again(project, cli, tmp_path):
    env = {"DEBUGGER_HOME": str(tmp_path / "home")}
    root = project("calc")
    path = root / "calc.py"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    os.chmod(path, 0o640)
    before = path.read_bytes()
    code, out, err, _ = cli("fix", "calc.py", "--model", fake("calc"), cwd=root, env=env)
    assert code == 0 and "debugger apply calc.py" in out and path.read_bytes() == before
    # a model that would now answer differently is never asked: apply runs no test and loads no model
    code, out, err, data = cli("apply", "calc.py", "--json", cwd=root, env=env)
    assert code == 0 and data["status"] == "applied", err
    assert path.read_bytes() == fixed("calc").read_bytes().replace(b"\n", b"\r\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and "+    return a * b" in data["diff"]
    code, _, err, _ = cli("apply", "calc.py", cwd=root, env=env)  # taken once
    assert code == 2 and "no verified fix" in err
    code, _, err, _ = cli("undo", "calc.py", cwd=root, env=env)
    assert code == 0 and path.read_bytes() == before


@pytest.mark.integration
def test_apply_refuses_a_file_that_changed_or_another_test_command(project, cli, tmp_path):
    env = {"DEBUGGER_HOME": str(tmp_path / "home")}
    root = project("calc")
    path = root / "calc.py"
    code, _, err, _ = cli("apply", "calc.py", cwd=root, env=env)
    assert code == 2 and "no verified fix to apply; run `debugger fix calc.py` first" in err
    test = f"{sys.executable} -m pytest -q"
    code, _, err, _ = cli("fix", "calc.py", "--model", fake("calc"), "--test", test, cwd=root, env=env)
    assert code == 0, err
    code, _, err, _ = cli("apply", "calc.py", cwd=root, env=env)  # the default command is not the one that validated
    assert code == 2 and "another test command" in err and "-m pytest -q" in err
    edited = path.read_bytes() + b"\n# my edit\n"
    path.write_bytes(edited)
    code, _, err, data = cli("apply", "calc.py", "--test", test, "--json", cwd=root, env=env)
    assert code == 2 and data["status"] == "error" and "changed since" in data["error"]
    assert path.read_bytes() == edited
