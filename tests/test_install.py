"""What `pip install` puts in a user's environment: one import name, `debugger`, and nothing that
shadows (or is shadowed by) another distribution's generic top-level package."""
import subprocess
import sys
import zipfile
import pytest
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_the_wheel_installs_one_import_name_beside_a_package_named_data(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(REPO)], check=True, capture_output=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("debugger-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"debugger", wheel.name.split("-py")[0] + ".dist-info"}
    for inside in ("debugger/cli.py", "debugger/data/schema.py", "debugger/eval/runner.py",
                   "debugger/eval/configs/default.toml", "debugger/training/train.py",
                   "debugger/localization/weights.json", "debugger/_probe/debugger_probe.py"):
        assert inside in names, inside
    site, theirs = tmp_path / "site", tmp_path / "theirs"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    for name in ("data", "eval", "training", "repair"):  # another project's packages, on the path first
        (theirs / name).mkdir(parents=True)
        (theirs / name / "__init__.py").write_text(f"OWNER = 'theirs:{name}'\n")
    code = ("import data, eval, training, repair, debugger.data.schema, debugger.eval.runner, debugger.cli\n"
            "print(data.OWNER, eval.OWNER, training.OWNER, repair.OWNER, debugger.__file__)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": f"{theirs}:{site}", "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[:4] == ["theirs:data", "theirs:eval", "theirs:training", "theirs:repair"]
    assert p.stdout.split()[4].startswith(str(site))  # the installed copy, not the source tree


def test_the_architecture_page_lists_every_module_and_nothing_that_is_gone():
    import fnmatch
    page = (REPO / "docs" / "architecture.md").read_text()
    tree = page[page.index("## Files"):]
    listed = [ln.split()[0] for ln in tree.splitlines() if ln and not ln.startswith(("#", "`"))]
    modules = [p.relative_to(REPO).as_posix() for d in ("repair", "data", "eval", "training")
               for p in (REPO / d).rglob("*.py") if p.name != "__init__.py" or d == "repair"]
    covers = lambda pat, m: fnmatch.fnmatch(m, pat + "*" if pat.endswith("/") else pat)  # noqa: E731 (a folder: all in it)
    missing = [m for m in modules if not any(covers(pat, m) for pat in listed)]
    assert not missing, f"docs/architecture.md does not list: {missing}"
    gone = [pat for pat in listed if not any(REPO.glob(pat.rstrip("/")))]
    assert not gone, f"docs/architecture.md lists what is not there: {gone}"


def test_the_settings_table_is_made_from_the_declarations():
    from debugger.config import TABLE_END, TABLE_START, settings_table
    page = (REPO / "docs" / "usage.md").read_text()
    table = page[page.index(TABLE_START) + len(TABLE_START):page.index(TABLE_END)].strip()
    assert table == settings_table(), "run: python -m debugger.config docs/usage.md"


def test_every_setting_is_a_flag_of_fix_with_its_declared_help():
    from debugger.cli import app
    from debugger.config import SETTINGS, meta
    from typer.testing import CliRunner
    shown = CliRunner().invoke(app, ["fix", "--help"], env={"COLUMNS": "400"}).output
    for name in (n for n in SETTINGS if meta(n)["flag"]):
        assert "--" + name.replace("_", "-") + " " in shown, name
        assert meta(name)["help"][:30] in " ".join(shown.split()), name


def _functions(folder: str):
    import ast
    for path in sorted((REPO / folder).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(REPO).as_posix(), node, tree


def test_the_runtime_stays_readable():
    """pipeline.fix reads as its stages; no function of the runtime takes more than 12 parameters; nothing
    outside the engine family compares engine names (the stages ask an Engine's capability flags)."""
    import ast

    from debugger.engines import ENGINES
    fix = next(n for p, n, _ in _functions("repair") if p == "repair/pipeline.py" and n.name == "fix")
    assert fix.end_lineno - fix.lineno + 1 < 60
    for path, node, _ in _functions("repair"):
        a = node.args
        count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
        count -= bool(a.args) and a.args[0].arg in ("self", "cls")
        assert count <= 12, f"{path}:{node.lineno} {node.name} takes {count} parameters"
    names = set(ENGINES)
    for path in sorted((REPO / "repair").rglob("*.py")):
        if "engines" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                consts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                assert not names & set(consts), f"{path.relative_to(REPO)}:{node.lineno} compares engine names"
