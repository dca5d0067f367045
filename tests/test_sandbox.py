import os
import time
import pytest

from debugger.sandbox import LocalSandbox, remove_copy, scratch_copy


@pytest.mark.integration
def test_timeout_kills_grandchildren(tmp_path):
    marker = tmp_path / "alive"
    # the shell starts a background grandchild that would touch `marker` after 3 s
    cmd = f"(sleep 3; touch {marker}) & sleep 60"
    t0 = time.monotonic()
    r = LocalSandbox().run(cmd, tmp_path, dict(os.environ), timeout=1)
    assert r.timed_out and time.monotonic() - t0 < 10
    time.sleep(3.5)
    assert not marker.exists()


def test_output_is_capped_and_decoded_with_replacement(tmp_path):
    cmd = "python3 -c \"import sys; sys.stdout.buffer.write(b'\\xff' + b'x' * 5_000_000 + b'END')\""
    r = LocalSandbox().run(cmd, tmp_path, dict(os.environ), timeout=30)
    assert r.returncode == 0 and r.truncated
    assert len(r.output) < 100_000
    assert r.output.startswith("\ufffd") and r.output.endswith("END")


def test_file_size_limit(tmp_path):
    r = LocalSandbox(fsize_bytes=1 << 20).run(
        "python3 -c \"open('big', 'wb').write(b'0' * (4 << 20))\"", tmp_path, dict(os.environ), timeout=30)
    assert r.returncode != 0
    assert (tmp_path / "big").stat().st_size <= 1 << 20


def test_scratch_copy_skips_caches_and_venvs(tmp_path):
    root = tmp_path / "proj"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "pkg" / "m.py").write_text("x = 1\n")
    (root / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"stale")
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("")
    (root / ".git").mkdir()
    copy = scratch_copy(root)
    try:
        assert (copy / "pkg" / "m.py").read_text() == "x = 1\n"
        assert not (copy / "pkg" / "__pycache__").exists()
        assert not (copy / "env").exists() and not (copy / ".git").exists()
    finally:
        remove_copy(copy)
    assert not copy.exists()
