import ast
import pytest

from debugger.localization.ranking import MUTATION, localize, weights_for
from debugger.localization.mutants import mutants, probe, score, undoing

from conftest import workspace
from fakes import BRANCHY, branchy, tiny_project

CODE = '''LIMIT = 3


def total(xs, n):
    acc = 0
    for x in xs[:n]:
        if x > 2 and not x == 5:
            acc += x * 2
    return max(acc, n - 1)
'''


def test_each_mutant_is_one_edit_on_the_statements_line():
    found = mutants(CODE, 7, 7, limit=20)
    labels = [m.label for m in found]
    assert labels[0] == "line 7: negate condition"
    assert {"line 7: and -> or", "line 7: > -> >=", "line 7: drop not", "line 7: == -> !=",
            "line 7: 2 -> 3"} <= set(labels)
    for m in found:
        ast.parse(m.text)
        old, new = CODE.splitlines(), m.text.splitlines()
        assert len(new) == len(old) and [i for i, (a, b) in enumerate(zip(old, new)) if a != b] == [6]
        assert (m.line, m.new_line, m.span) == (7, new[6] + "\n", (7, 7))
    assert len(mutants(CODE, 7, 7, limit=4)) == 4
    assert mutants(CODE, 1, 1) == []  # module level: ran at import, before any swap
    assert mutants(CODE.replace("acc = 0", "acc = = 0"), 7, 7) == []  # a file that does not parse


def line_of(found, n):
    return {m.label.split(": ", 1)[1]: m.text.splitlines()[n - 1].strip() for m in found}


def test_likely_undoing_edits_come_first_and_read_like_code():
    # the probe runs only the first few: a slip's likeliest undoing comes before edits that only break
    # (delete, return None) and before a constant's less likely neighbours
    assert [m.label for m in mutants(CODE, 8, 8, limit=3)] == ["line 8: += -> -=", "line 8: x -> n",
                                                                  "line 8: * -> //"]
    assert mutants(CODE, 8, 8, limit=20)[-1].label == "line 8: delete statement"
    nine = line_of(mutants(CODE, 9, 9, limit=20), 9)
    assert list(nine)[:5] == ["max -> min", "acc -> x", "swap arguments", "n -> x", "drop - 1"]
    assert nine["drop - 1"] == "return max(acc, n)" and nine["swap arguments"] == "return max(n - 1, acc)"
    assert list(nine)[-1] == "return None"
    seven = line_of(mutants(CODE, 7, 7, limit=20), 7)  # parentheses only where precedence needs them
    assert seven["negate condition"] == "if not (x > 2 and not x == 5):"
    assert seven["> -> >="] == "if x >= 2 and not x == 5:" and seven["drop not"] == "if x > 2 and x == 5:"
    assert line_of(mutants("def f(a, b):\n    return a * b\n", 2, 2, 20), 2)["* -> +"] == "return a + b"
    assert line_of(mutants("def f(a, b):\n    return 2 * a * b\n", 2, 2, 20), 2)["* -> +"] == \
        "return (2 + a) * b"
    # a variable read in place of one the function never reads: the unread one is the likeliest meant
    code = "def f(sock, timeout, data):\n    data.sock = timeout\n    data.timeout = timeout\n"
    assert line_of(mutants(code, 2, 2, 1), 2) == {"timeout -> sock": "data.sock = sock"}
    # three arguments: the first two swapped, the rest kept
    code = "def f(a, b, c):\n    return setattr(a, b, c)\n"
    assert line_of(mutants(code, 2, 2, 20), 2)["swap arguments"] == "return setattr(b, a, c)"


SHAPES = '''def render(items, strict=False, *, sep=", "):
    return sep.join(items)


class Page:
    def title(self, text, strict=False):
        return text

    def show(self, items, strict, headers, opts=None, sep=None):
        if opts:
            items = render(items)
        if not headers:
            headers = {}
        kind = headers.pop("kind")
        name = getattr(self, kind)
        if kind == "Text" or name in headers:
            return self.title(name)
        if name.startswith(kind):
            return render(items, strict)
        return name.split(":", 1)
'''


def test_the_shapes_of_human_fixes_are_offered_after_the_likeliest_slips():
    shape = {"truth -> is not None", "not x -> x is None", "compare lower-cased", "startswith lower-cased",
             "pop with default None", "getattr with default None", "split -> rsplit"}
    def at(n, limit=20):
        return line_of(mutants(SHAPES, n, n, limit), n)
    assert at(10)["truth -> is not None"] == "if opts is not None:"
    assert at(11)["pass strict=strict"] == "items = render(items, strict=strict)"  # sep: no parameter of show
    assert at(12)["not x -> x is None"] == "if headers is None:"
    assert at(14)["pop with default None"] == 'kind = headers.pop("kind", None)'
    assert at(15)["getattr with default None"] == "name = getattr(self, kind, None)"
    seventeen = at(16)
    assert seventeen["compare lower-cased"] in ('if kind.lower() == "text" or name in headers:',
                                                'if kind == "Text" or name.lower() in headers:')
    assert {'if kind.lower() == "text" or name in headers:', 'if kind == "Text" or name.lower() in headers:'} <= \
        {m.new_line.strip() for m in mutants(SHAPES, 16, 16, 40)}
    assert at(17)["pass strict=strict"] == "return self.title(name, strict=strict)"  # a method, through self
    assert at(18)["startswith lower-cased"] == "if name.lower().startswith(kind):"
    assert "pass strict=strict" not in at(19)  # passed already, by position
    assert at(20)["split -> rsplit"] == 'return name.rsplit(":", 1)'
    # after the head and the first two slips: a limit of six keeps one
    first = [m.label.split(": ", 1)[1] for m in mutants(SHAPES, 16, 16, 6)]
    assert first[0] == "negate condition" and first[3] == first[4] == "compare lower-cased" and first[5] not in shape
    assert [(m.label.split(": ", 1)[1], m.shape) for m in mutants(SHAPES, 10, 10, 6)] == [
        ("negate condition", False), ("opts -> sep", False), ("truth -> is not None", True)]
    assert [m.shape for m in mutants(SHAPES, 20, 20, 20) if "split" in m.label] == [True]
    twice = SHAPES + "\n\ndef render(items):\n    return items\n"  # which render a call reaches is unknown
    assert "pass strict=strict" not in line_of(mutants(twice, 11, 11, 20), 11)


def test_score_is_metallaxis_and_fix_needs_the_passing_tests_kept():
    base = {"f1": ["failed", "assert 1 == 2"], "f2": ["failed", "assert 3 == 4"], "p": ["passed", ""]}
    failing = ["f1", "f2"]
    both = ["f1", "f2", "p"]
    changes_one = ({"f1": ["failed", "assert 0 == 2"], "f2": base["f2"], "p": ["passed", ""]}, both, 2)
    fixes_both_breaks_p = ({"f1": ["passed", ""], "f2": ["passed", ""], "p": ["failed", "x"]}, both, 2)
    fixes_one = ({"f1": ["passed", ""], "f2": base["f2"], "p": ["passed", ""]}, both, 2)
    s = score(base, [changes_one], failing)
    assert abs(s["kill"] - 1 / (2 * 1) ** 0.5) < 1e-9 and s["fix"] == 0.0
    s = score(base, [fixes_both_breaks_p], failing)
    assert abs(s["kill"] - 2 / (2 * 3) ** 0.5) < 1e-9 and s["fix"] == 0.0  # broke a passing test: no fix
    s = score(base, [changes_one, fixes_one, ({}, ["f1"], 2)], failing)
    assert s["mutants"] == 2 and s["fix"] == 0.5  # a mutant that ran nothing does not count
    # run on a sample (f1) of the two failing tests that ran the statement: its share stands for both
    s = score(base, [({"f1": ["passed", ""], "p": ["passed", ""]}, ["f1", "p"], 2)], failing)
    assert s["fix"] == 1.0 and s["kill"] == 1.0
    # a statement only f1 ran: fixing f1 fixes half of what fails
    assert score(base, [({"f1": ["passed", ""]}, ["f1"], 1)], failing)["fix"] == 0.5


def test_probe_finds_the_mutant_that_fixes_the_condition(tmp_path):
    src, rep = branchy(tmp_path)  # `score > 50` should be `>=`; the tests do `from m import grade`
    before = (src.root / "m.py").read_bytes()
    stmts = localize(src, rep).statements
    m = probe(workspace(src.root), src, rep, stmts, budget=30)
    assert (src.root / "m.py").read_bytes() == before  # mutants ran in a scratch copy
    assert not m.error and m.run == m.mutants > 5
    assert m.scores[(3, 3)]["fix"] == 1.0 and m.scores[(3, 3)]["kill"] == 1.0
    assert m.scores[(6, 6)]["fix"] == 0.0  # the else body: no mutant of it passes test_edge
    loc = localize(src, rep, mutants=m.scores, weights={"spectrum": 1.0, "mutant_fix": 2.0})
    assert loc.statements[0].start_line == 3 and "mutant_fix 1.00" in loc.statements[0].reason
    # the mutant that undoes it, as the candidate patch will take it: one line, its span, what it passed
    fix = undoing(m)[0]
    assert (fix.label, fix.line, fix.new_line, fix.span) == ("line 3: > -> >=", 3, "    if score >= 50:\n", (3, 3))
    assert fix.results and all(r[0] == "passed" for r in fix.results.values())
    # no time: the unmutated run only, no scores
    none = probe(workspace(src.root), src, rep, stmts, budget=0)
    assert none.run == 0 and none.scores == {}


def test_lazy_module_attributes_are_not_touched(tmp_path):
    """six-style lazy attributes import on first touch: finding the functions must not touch them."""
    from fakes import BRANCHY, BRANCHY_TESTS
    lazy = "\n\nclass Lazy:\n    def __getattr__(self, name):\n        raise ImportError(name)\n\n\nmoves = Lazy()\n"
    src, rep = tiny_project(tmp_path, BRANCHY + lazy, BRANCHY_TESTS)
    m = probe(workspace(src.root), src, rep, localize(src, rep).statements, budget=30)
    assert not m.error and m.run > 5 and m.scores[(3, 3)]["fix"] == 1.0


@pytest.mark.integration
def test_a_mutant_that_hangs_is_cut_by_the_per_test_limit(tmp_path):
    src, rep = tiny_project(tmp_path, "def count(n):\n    i = 0\n    while i < n:\n        i += 2\n    return i\n",
                            "from m import count\n\ndef test_count():\n    assert count(3) == 3\n")
    stmts = [s for s in localize(src, rep).statements if s.start_line == 4]  # `-=` never ends the loop
    m = probe(workspace(src.root), src, rep, stmts, budget=30, test_timeout=0.5)
    assert m.run >= 2 and m.scores[(4, 4)]["kill"] == 1.0 and m.seconds < 20


def test_locate_runs_the_probe_only_when_weighted(tmp_path):
    from debugger.localization.passes import locate
    src, rep = branchy(tmp_path)
    asked = []

    def fake_probe(stmts):
        asked.append([s.start_line for s in stmts])
        from debugger.localization.mutants import MutationProbe
        return MutationProbe({(s.start_line, s.end_line): {"mutants": 1, "kill": 0.0, "fix": float(s.start_line == 2)}
                              for s in stmts}, len(stmts), len(stmts))
    loc, reads = locate(src, rep, None, weights=weights_for({"mutant_fix": 100.0}), mutate=fake_probe)
    assert asked and loc.statements[0].start_line == 2 and reads.mutation.run == len(asked[0])
    # the first ranking's weights pick what the probe reads; the final ones rank after it
    asked.clear()
    first = {"spectrum": 1.0, "type_return": -5.0}
    loc, _ = locate(src, rep, None, weights={"branch": 1.0, "type_condition": 0.1, "mutant_fix": 0.1}, first=first, mutate=fake_probe)
    assert asked[0] == [s.start_line for s in localize(src, rep, weights=first, top_k=100).statements][:len(asked[0])]
    assert loc.statements[0].start_line == 3  # branch: the final weights ranked it
    asked.clear()
    _, reads = locate(src, rep, None, weights=weights_for(dict.fromkeys(MUTATION, 0.0)), mutate=fake_probe)
    assert not asked and reads.mutation is None


@pytest.mark.integration
def test_localize_cli_runs_the_probe_when_the_settings_weight_it(tmp_path, cli):
    src, _ = branchy(tmp_path)
    (src.root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
                                             '[tool.debugger]\nweights = {mutant_fix = 5.0}\n')
    code, _, err, data = cli("localize", "m.py", "--json", cwd=src.root)
    assert code == 0, err
    assert data["mutation"]["run"] > 5 and not data["mutation"]["error"]
    assert data["spans"][0]["start_line"] == 3 and "mutant_fix" in data["spans"][0]["evidence"]
    code, _, err, _ = cli("localize", "m.py", cwd=src.root)
    assert code == 0 and "mutants" in err and " run in " in err


def test_probe_reaches_functions_held_by_decorator_objects_and_twice_defined_names(tmp_path):
    """A curry-like decorator keeps the function in a partial in its instance dict (toolz), and a module
    may define a name twice, keeping the first under another name: the probe must mutate the first and
    leave the twice-defined pair as each is (swapped by name alone, one would call itself)."""
    code = (
        "import functools\n\n\n"
        "class curry:\n"
        "    def __init__(self, func):\n"
        "        self._partial = functools.partial(func)\n\n"
        "    def __call__(self, *args):\n"
        "        return self._partial(*args)\n\n\n"
        "@curry\n"
        "def shrink(x):\n"
        "    return x + 1\n\n\n"
        "def twice(x):\n"
        "    return x * 2\n\n\n"
        "_twice_orig = twice\n\n\n"
        "def twice(x):\n"
        "    return _twice_orig(x)\n"
    )
    tests = ("from m import shrink, twice\n\n"
             "def test_shrink():\n    assert shrink(3) == 2\n\n"
             "def test_twice():\n    assert twice(4) == 8 and shrink(0) is not None\n")
    src, rep = tiny_project(tmp_path, code, tests)
    assert rep.failing == ["tests/test_m.py::test_shrink"]
    stmts = [s for s in localize(src, rep).statements if s.start_line == 14]
    m = probe(workspace(src.root), src, rep, stmts, budget=30)
    assert stmts and not m.error and m.scores[(14, 14)]["fix"] == 1.0  # `+ -> -`, through the curry's partial


@pytest.mark.integration
def test_fix_validates_the_probes_undoing_mutant_before_asking_the_model(tmp_path, cli):
    """A probe mutant that fixed the failing tests is a candidate like any other: validated on every
    test, and applied byte-exact (CRLF kept). The "model" here only ever echoes the buggy file."""
    src, _ = branchy(tmp_path)
    m = src.root / "m.py"
    m.write_bytes(m.read_bytes().replace(b"\n", b"\r\n"))
    code, _, err, data = cli("fix", "m.py", "--model", f"fake:{m}", "--json", "--rounds", "0", "--apply",
                             "--select", "0", cwd=src.root)
    assert (code, data["status"]) == (0, "fixed"), err
    assert data["winner"]["origin"] == "mutant line 3: > -> >=" and data["tokens"] == 0
    assert "-    if score > 50:\n+    if score >= 50:\n" in data["diff"]
    assert m.read_bytes() == BRANCHY.replace("score > 50", "score >= 50").replace("\n", "\r\n").encode()
    # without the mutant format the model's echo is all there is
    m.write_bytes(BRANCHY.encode())
    code, _, _, data = cli("fix", "m.py", "--model", f"fake:{m}", "--json", "--rounds", "0",
                           "--formats", "infill,rewrite", cwd=src.root)
    assert (code, data["status"]) == (1, "not_fixed")


@pytest.mark.integration
def test_a_fix_the_probe_finds_loads_no_model(tmp_path, monkeypatch):
    """The generator loads when a prompt first needs it: here the probe's mutant fixes the bug and no time is
    given to look for alternatives (--select 0), so no model is made, yet the result still names the model
    and engine it would have used. With selection on, the mutant is one candidate among the model's."""
    from debugger import pipeline
    from debugger.config import resolve
    src, _ = branchy(tmp_path)
    made = []
    real = pipeline.make_generator
    monkeypatch.setattr(pipeline, "make_generator", lambda cfg, emit: made.append(cfg.model) or real(cfg, emit))
    cfg = resolve(src.root, {"model": f"fake:{src.path}", "rounds": 0, "select": 0.0})
    res = pipeline.fix(str(src.path), cfg, root=str(src.root))
    assert res.status == "fixed" and res.winner["origin"].startswith("mutant") and made == []
    assert (res.model, res.engine) == (f"fake:{src.path}", "fake")
    cfg = resolve(src.root, {"model": f"fake:{src.path}", "rounds": 0})
    res = pipeline.fix(str(src.path), cfg, root=str(src.root))
    assert res.status == "fixed" and made == [cfg.model] and res.tokens > 0
    made.clear()
    # without the mutant format the model is loaded, once, for the prompts
    cfg = resolve(src.root, {"model": f"fake:{src.path}", "rounds": 0, "formats": ["infill", "rewrite"]})
    assert pipeline.fix(str(src.path), cfg, root=str(src.root)).status == "not_fixed" and made == [cfg.model]


def test_a_probe_that_found_no_patch_gets_a_second_look_with_a_scorer_loaded_then(tmp_path, monkeypatch):
    """On llama.cpp (no Scorer while localizing) a probe that found no patch loads the scorer: its surprisal
    redoes the first ranking, the probe reads only the statements that rose into its reach, and the final
    ranking sees both probes. A probe that found a patch loads nothing."""
    import debugger.localization.passes as locate_mod
    from debugger.localization.mutants import Mutant, MutationProbe
    from fakes import ScoringModel
    monkeypatch.setattr(locate_mod, "MUTANT_K", 2)  # BRANCHY has 5 statements: leave some out of reach
    monkeypatch.setattr(locate_mod, "MUTANT_TAIL", 3)
    src, rep = branchy(tmp_path)
    first = {"spectrum": 1.0, "surprisal": 10.0}
    w = first | {"mutant_fix": 100.0}
    plain = localize(src, rep, weights=first, top_k=100).statements
    odd = plain[-1]  # the test run ranks it last: out of the probe's reach
    key = (odd.start_line, odd.end_line)

    class Surprised(ScoringModel):
        def line_surprisal(self, text, lines, tokens=False):
            return {ln: [9.0 if ln == odd.start_line else 1.0] for lo, hi in lines for ln in range(lo, hi + 1)}
    asked, loads = [], []

    def fake_probe(stmts, full=None, patch=False):
        asked.append(([(s.start_line, s.end_line) for s in stmts], full))
        m = MutationProbe({(s.start_line, s.end_line): {"mutants": 1, "kill": 0.0,
                                                         "fix": float((s.start_line, s.end_line) == key)}
                           for s in stmts}, len(stmts), len(stmts), base={rep.failing[0]: ["failed", ""]})
        if patch:
            m.trace = [Mutant("line 3", 3, "    if score >= 50:\n", src.text, (3, 6), {rep.failing[0]: ["passed", ""]})]
        return m

    def later():
        loads.append(1)
        return Surprised("")
    loc, reads = locate_mod.locate(src, rep, None, weights=w, first=first, mutate=fake_probe, later=later)
    assert loads == [1] and reads.second_look and reads.surprisal
    assert key not in asked[0][0] and asked[0][1] is None and len(asked[0][0]) == 3
    second, full = asked[1]
    assert second[0] == key and full >= 1 and not set(second[:full]) & set(asked[0][0][:2])
    assert reads.mutation.run == len(asked[0][0]) + len(second) and reads.mutation.scores[key]["fix"] == 1.0
    assert (loc.statements[0].start_line, loc.statements[0].end_line) == key
    assert "surprisal" in loc.statements[0].reason
    # a patch in the first probe: no scorer, no second probe
    asked.clear()
    loads.clear()
    _, reads = locate_mod.locate(src, rep, None, weights=w, first=first, later=later,
                                 mutate=lambda stmts, full=None: fake_probe(stmts, full, patch=True))
    assert not loads and len(asked) == 1 and not reads.second_look and reads.surprisal is None


def test_merged_probes_keep_the_best_score_of_each_statement():
    from debugger.localization.mutants import MutationProbe, merged
    a = MutationProbe({(1, 1): {"mutants": 2, "kill": 0.5, "fix": 0.0}}, 4, 3, 1.0, trace=["x"], base={"t": 1})
    b = MutationProbe({(1, 1): {"mutants": 1, "kill": 0.1, "fix": 1.0}, (2, 2): {"mutants": 1, "kill": 0, "fix": 0}},
                      2, 2, 0.5, "cut", trace=["y"], base={"t": 2})
    m = merged(a, b)
    assert m.scores[(1, 1)] == {"mutants": 3, "kill": 0.5, "fix": 1.0} and (2, 2) in m.scores
    assert (m.mutants, m.run, m.seconds, m.error, m.trace, m.base) == (6, 5, 1.5, "cut", ["x", "y"], {"t": 1})


@pytest.mark.integration
def test_fix_on_llama_takes_the_second_look_only_where_the_probe_and_the_greedy_infills_found_no_patch(tmp_path):
    """Through the pipeline: on llama.cpp with `surprisal` unset, a bug no mutant undoes and no one-statement
    infill fixes (two words, the fix a rewrite) loads the scorer for the second look once the greedy infills
    have failed, and shows its ranking; one a greedy infill fixes (one word) loads none; a bug a mutant undoes
    (BRANCHY's `>`) loads none; and `surprisal = false` never does."""
    import dataclasses

    from debugger.config import FixConfig
    from debugger.engines import ENGINES
    from debugger.engines.fake import FakeGenerator
    from debugger.pipeline import Models, fix
    from fakes import ScoringModel
    words = ("def grade(score):\n    label = 'unknown'\n    if score > 50:\n        label = 'pass'\n"
             "    else:\n        label = 'fial'\n    return label\n")
    src, _ = tiny_project(tmp_path, words, "from m import grade\n\ndef test_low():\n    assert grade(3) == 'fail'\n\n"
                          "def test_high():\n    assert grade(90) == 'pass'\n")
    fixed = tmp_path / "fixed.py"
    fixed.write_text(words.replace("fial", "fail").replace("'unknown'", "None"))

    class Counting(ScoringModel):
        reads = 0

        def line_surprisal(self, text, lines, tokens=False):
            Counting.reads += 1
            return super().line_surprisal(text, lines, tokens)

    # an engine that scores nothing itself but has a scorer beside it (llama.cpp's case): what decides the look
    beside = dataclasses.replace(ENGINES["fake"], scored_beside=True)

    def run(path, **kw):
        seen = []
        result = fix(str(path), FixConfig(model=f"fake:{fixed}", budget=60, select=0, **kw),
                     models=Models(generator=FakeGenerator(fixed), scorer=Counting(""), engine=beside),
                     on_event=lambda e: seen.append(e.name))
        return result, seen
    result, seen = run(src.path)
    assert result.status == "fixed" and "second_look" in seen and Counting.reads == 1
    assert result.winner["origin"].startswith("rewrite")
    # taken after the first ranking was shown and its greedy infills failed, before any sampled or rewrite
    # prompt; its five statements were all in the first probe's reach: nothing rose, no second test run
    assert seen.index("localized") < seen.index("second_look") < len(seen) - seen[::-1].index("localized")
    assert seen.count("mutation") == 1
    Counting.reads = 0
    result, seen = run(src.path, surprisal=False)
    assert result.status == "fixed" and "second_look" not in seen and Counting.reads == 0
    fixed.write_text(words.replace("fial", "fail"))
    result, seen = run(src.path)
    assert result.status == "fixed" and result.winner["origin"] == "infill greedy @6-6"
    assert "second_look" not in seen and Counting.reads == 0
    src2, _ = branchy(tmp_path / "b")
    fixed.write_text(BRANCHY.replace("> 50", ">= 50"))
    result, seen = run(src2.path)
    assert result.status == "fixed" and "second_look" not in seen and Counting.reads == 0


def test_fix_shapes_counts_the_one_line_fixes_a_mutant_undoes(tmp_path, capsys):
    import json
    import subprocess
    from debugger.eval import fix_shapes
    work = tmp_path / "work"
    (work / "tests").mkdir(parents=True)

    def commit(code: str, test: str, message: str) -> None:
        (work / "m.py").write_text(code)
        (work / "tests" / "test_m.py").write_text(test)
        subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
                       check=True)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    commit("def f(x):\n    if x:\n        return 1\n    return 0\n", "def test_f(): pass\n", "first")
    commit("def f(x):\n    if x is not None:\n        return 1\n    return 0\n", "def test_f(): assert 1\n", "None")
    commit("def f(x):\n    if x is not None:\n        return 2\n    return 0\n", "def test_f(): assert 2\n", "two")
    commit("def f(x):\n    if x is not None:\n        return 2\n    return 0  # zero\n", "def test_f(): assert 3\n", "a comment")
    (tmp_path / "mirror" / "o+n").mkdir(parents=True)
    (tmp_path / "mirror" / "o+n" / "repo").symlink_to(work / ".git")
    assert fix_shapes.main(["--mirror", str(tmp_path / "mirror"), "--project", "o+n", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    # three one-line commits; the comment is no code change; the constant 1 -> 2 is a slip's (off by one)
    assert got["total"] == {"fixes": 2, "slips": 1, "shapes": 1}
    assert got["projects"]["o+n"]["labels"] == {"truth -> is not None": 1, "1 -> 2": 1}
    assert fix_shapes.main(["--mirror", str(tmp_path / "mirror"), "--project", "x+y"]) == 2


@pytest.mark.integration
def test_a_truth_test_that_meant_is_not_none_is_fixed_by_the_probes_shape(tmp_path):
    """`if opts:` where `{}` must count as given: no slip's undoing passes (`not opts` breaks the default), the
    shape `opts is not None` does, a passing test runs its line, so it is offered, and said to be a shape."""
    from debugger import pipeline
    from debugger.config import resolve
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    (root / "show.py").write_text('def show(items, opts=None):\n    if opts:\n        return "custom"\n'
                                  '    return "default"\n')
    (root / "tests" / "test_show.py").write_text(
        "from show import show\n\n\ndef test_empty_options_are_options():\n    assert show([], {}) == 'custom'\n\n\n"
        "def test_no_options():\n    assert show([]) == 'default'\n")
    cfg = resolve(root, {"model": f"fake:{root / 'show.py'}", "rounds": 0, "select": 0.0})
    res = pipeline.fix(str(root / "show.py"), cfg, root=str(root))
    assert res.status == "fixed" and "+    if opts is not None:" in res.diff, res.error
    assert res.winner["origin"] == "mutant line 2: truth -> is not None" and res.winner["shape"] is True
