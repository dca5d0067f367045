from repair.localize import localize
from repair.sandbox import remove_copy, scratch_copy
from repair.source import load
from repair.testrun import default_command, run_tests


def baseline(src):
    copy = scratch_copy(src.root)
    try:
        return run_tests(copy, default_command(), target=src.rel)
    finally:
        remove_copy(copy)


def test_spectrum_points_at_the_buggy_function(project):
    root = project("calc")
    src = load(root / "calc.py")
    loc = localize(src, baseline(src))
    assert (loc.statements[0].start_line, loc.statements[0].kind) == (6, "statement")  # return a + b in mul
    assert loc.functions[0].name == "mul"
    assert "spectrum" in loc.statements[0].reason


def test_helper_the_traceback_never_enters(project):
    root = project("helper")
    src = load(root / "names.py")
    rep = baseline(src)
    assert all(f.file != "names.py" for n in rep.failing for f in rep.tests[n].frames)
    loc = localize(src, rep)
    assert 2 in [s.start_line for s in loc.statements[:3]]  # the helper's return line
    # surprisal breaks the spectrum's tie when it is given
    loc2 = localize(src, rep, surprisal={2: 5.0, 6: 1.0, 10: 1.0})
    assert loc2.statements[0].start_line == 2


def test_traceback_frames_rank_first(tmp_path):
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    (root / "m.py").write_text("def get(d):\n    x = 1\n    return d['key']\n\n\ndef f(d):\n    return get(d)\n")
    (root / "tests" / "test_m.py").write_text("from m import f\n\ndef test_f():\n    assert f({'k': 1}) == 1\n")
    src = load(root / "m.py")
    loc = localize(src, baseline(src))
    assert loc.statements[0].start_line == 3 and "traceback" in loc.statements[0].reason
    assert loc.statements[1].start_line == 7  # the outer frame
    assert loc.functions[0].name == "get"


def test_syntax_error(project):
    root = project("calc")
    (root / "calc.py").write_text((root / "calc.py").read_text().replace("def mul(a, b):", "def mul(a, b)"))
    src = load(root / "calc.py")
    loc = localize(src, baseline(src))
    assert loc.syntax_error
    assert loc.statements[0].start_line == 5


def test_dstar_formula_agrees_on_the_top_line(project):
    root = project("calc")
    src = load(root / "calc.py")
    rep = baseline(src)
    assert localize(src, rep, formula="dstar").statements[0].start_line == 6


def test_localize_cli_json_and_html(project, cli, tmp_path):
    root = project("calc")
    page = tmp_path / "loc.html"
    code, out, err, data = cli("localize", "calc.py", "--json", "--html", str(page), cwd=root)
    assert code == 0, err
    assert data["file"].endswith("calc.py") and data["spans"][0]["start_line"] == 6
    assert set(data["spans"][0]) == {"start_line", "end_line", "kind", "score", "evidence"}
    assert "return a + b" in page.read_text() and "<ol>" in page.read_text()
    code, out, err, _ = cli("localize", "calc.py", cwd=root)
    assert code == 0 and "suspicious spans" in out and "████████" in out
    code, _, err, _ = cli("localize", "nope.py", cwd=root)
    assert code == 2 and "no such file" in err
