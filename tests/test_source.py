import os
import stat

import pytest

from debugger.source import Edit, InputError, apply_edit, edited_text, find_root, load


def write(path, data: bytes, mode=None):
    path.write_bytes(data)
    if mode is not None:
        os.chmod(path, mode)
    return path


@pytest.mark.parametrize("name,data,message", [
    ("empty.py", b"", "empty"),
    ("blank.py", b"\n\n  \n", "empty"),
    ("bin.py", b"x = 1\x00\x01\n", "binary"),
    ("notes.txt", b"x = 1\n", "not a Python file"),
])
def test_bad_inputs_are_rejected(tmp_path, name, data, message):
    write(tmp_path / name, data)
    with pytest.raises(InputError, match=message):
        load(tmp_path / name)


def test_missing_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "nope.py")
    with pytest.raises(InputError, match="directory"):
        load(tmp_path)


def test_bad_declared_encoding(tmp_path):
    write(tmp_path / "enc.py", b"# -*- coding: utf-8 -*-\nx = '\xff\xfe'\n")
    with pytest.raises(InputError, match="cannot decode"):
        load(tmp_path / "enc.py")


def test_root_is_nearest_marker(tmp_path):
    (tmp_path / "proj" / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "proj" / "setup.cfg").write_text("")
    f = write(tmp_path / "proj" / "pkg" / "sub" / "m.py", b"x = 1\n")
    assert find_root(f) == tmp_path / "proj"
    assert load(f).rel == "pkg/sub/m.py"


def test_file_outside_explicit_root(tmp_path):
    (tmp_path / "a").mkdir()
    f = write(tmp_path / "m.py", b"x = 1\n")
    with pytest.raises(InputError, match="not inside"):
        load(f, root=tmp_path / "a")


CASES = {
    "crlf": b"def f():\r\n    return 1\r\n\r\ndef g():\r\n    return 2\r\n",
    "bom": b"\xef\xbb\xbfdef f():\n    return 1\n\ndef g():\n    return '\xc3\xa9'\n",
    "cp1252": b"# -*- coding: cp1252 -*-\ndef f():\n    return 1\n\ndef g():\n    return '\xe9'\n",
    "no_final_newline": b"def f():\n    return 1\n\ndef g():\n    return 2",
    "mixed": b"def f():\r\n    return 1\n\ndef g():\r\n    return 2\n",
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_edit_is_byte_exact_outside_the_span(tmp_path, kind):
    raw = CASES[kind]
    path = write(tmp_path / "m.py", raw, 0o754)
    src = load(path, root=tmp_path)
    lines = src.lines
    line = next(i for i, ln in enumerate(lines, 1) if "return 1" in ln)
    out = apply_edit(src, Edit(line, line, "    return 10\n"))
    before, after = raw.split(b"return 1", 1)
    assert out == before + b"return 10" + after  # only the edited bytes changed
    assert stat.S_IMODE(src.mode) == 0o754


def test_edit_of_last_line_keeps_missing_newline(tmp_path):
    src = load(write(tmp_path / "m.py", CASES["no_final_newline"]), root=tmp_path)
    out = apply_edit(src, Edit(5, 5, "    return 20\n"))
    assert out.endswith(b"return 20") and not out.endswith(b"\n")


def test_edit_of_last_line_crlf(tmp_path):
    src = load(write(tmp_path / "m.py", CASES["crlf"]), root=tmp_path)
    out = apply_edit(src, Edit(5, 5, "    x = 2\n    return x\n"))
    assert out.endswith(b"    x = 2\r\n    return x\r\n")


def test_multi_line_replacement_and_text_view(tmp_path):
    src = load(write(tmp_path / "m.py", CASES["cp1252"]), root=tmp_path)
    edit = Edit(3, 3, "    y = 'é'\n    return y\n")
    out = apply_edit(src, edit)
    assert out.decode("cp1252").count("é") == 2
    assert edited_text(src.text, edit) == out.decode("cp1252")
