import os

import pytest

from debugger import writer
from debugger.source import InputError, load


def test_apply_is_atomic_and_keeps_mode(tmp_path):
    (tmp_path / "setup.py").write_text("")
    f = tmp_path / "m.py"
    f.write_bytes(b"x = 1\n")
    os.chmod(f, 0o600)
    src = load(f)
    inode = f.stat().st_ino
    writer.apply(src, b"x = 2\n")
    assert f.read_bytes() == b"x = 2\n" and oct(f.stat().st_mode & 0o777) == "0o600"
    assert f.stat().st_ino != inode  # replaced, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py", "setup.py"]


def test_refuses_when_the_file_changed_since_read(tmp_path):
    (tmp_path / "setup.py").write_text("")
    f = tmp_path / "m.py"
    f.write_bytes(b"x = 1\n")
    src = load(f)
    f.write_bytes(b"x = 1  # edited meanwhile\n")
    with pytest.raises(InputError, match="changed on disk"):
        writer.apply(src, b"x = 2\n")
    assert f.read_bytes() == b"x = 1  # edited meanwhile\n"


def test_refuses_a_symlink_leading_outside_the_project(tmp_path):
    proj, outside = tmp_path / "proj", tmp_path / "outside.py"
    proj.mkdir()
    (proj / "setup.py").write_text("")
    outside.write_bytes(b"x = 1\n")
    (proj / "m.py").symlink_to(outside)
    with pytest.raises(InputError, match="symlink leading outside"):
        writer.apply(load(proj / "m.py", root=proj), b"x = 2\n")
    assert outside.read_bytes() == b"x = 1\n"
