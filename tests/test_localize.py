import json

import pytest

from debugger.localization.ranking import localize
from debugger.source import load

from fakes import ScoringModel, baseline, branchy, tiny_project


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
    src, rep = tiny_project(tmp_path, "def get(d):\n    x = 1\n    return d['key']\n\n\ndef f(d):\n    return get(d)\n",
                            "from m import f\n\ndef test_f():\n    assert f({'k': 1}) == 1\n")
    loc = localize(src, rep)
    assert loc.statements[0].start_line == 3 and "traceback" in loc.statements[0].reason
    assert loc.statements[0].why and all(" " in w and "_" not in w for w in loc.statements[0].why)  # words
    # the outer frame comes soon after (the fitted weights may put the raising line's neighbour first)
    assert 7 in [st.start_line for st in loc.statements[1:3]]
    assert loc.functions[0].name == "get"


def test_evidence_in_words_follows_the_contributions():
    from debugger.localization.evidence import words
    feats = {"traceback": 1.0, "spectrum": 0.71, "mutant_fix": 1.0, "type_return": 1.0, "surprisal": 2.0}
    parts = {"traceback": 2.0, "spectrum": 0.5, "mutant_fix": 3.0, "type_return": 9.0, "surprisal": -1.0}
    assert words(feats, parts) == ["a one-token change here (a probe mutant) makes the failing tests pass",
                                   "a failing test's traceback passes through this line",
                                   "run more by failing tests than by passing ones (Ochiai 0.71)"]
    assert words({}, {}) == ["run by the failing tests"]


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


@pytest.mark.integration
def test_localize_cli_json_and_html(project, cli, tmp_path):
    root = project("calc")
    page = tmp_path / "loc.html"
    code, out, err, data = cli("localize", "calc.py", "--json", "--html", str(page), cwd=root)
    assert code == 0, err
    assert data["file"].endswith("calc.py") and data["spans"][0]["start_line"] == 6
    assert set(data["spans"][0]) == {"start_line", "end_line", "kind", "score", "evidence", "why"}
    assert any("failing tests" in w for w in data["spans"][0]["why"])  # in words, not feature names
    html = page.read_text()
    assert "return a + b" in html and "Ranked spans, and why" in html and "Suspicion, relative to" in html
    assert "Failing tests (2)" in html and "tests/test_calc.py::test_mul" in html and "assert" in html
    code, out, err, _ = cli("localize", "calc.py", cwd=root)
    assert code == 0 and "suspicious spans" in out and "████████" in out
    code, _, err, _ = cli("localize", "nope.py", cwd=root)
    assert code == 2 and "no such file" in err


def test_branch_spectrum_lifts_the_condition(tmp_path):
    # `>` should be `>=`: both tests run the condition (line spectrum 0.71), only the failing one
    # leaves it for the else branch: the arc spectrum gives the condition the body's full score
    src, rep = branchy(tmp_path)
    assert rep.failing == ["tests/test_m.py::test_edge"]
    assert ((3, 6) in rep.tests[rep.failing[0]].arcs) and (3, 6) not in rep.tests["tests/test_m.py::test_high"].arcs
    loc = localize(src, rep, weights={"branch": 1.0, "type_condition": 0.1})
    assert loc.evidence["spectrum"][3] < 0.8 and loc.evidence["branch"][3] == 1.0
    assert loc.statements[0].start_line == 3 and "branch" in loc.statements[0].reason
    # the line spectrum alone prefers the else body
    assert localize(src, rep, weights={"spectrum": 1.0}).statements[0].start_line == 6


def test_feature_weights_are_fitted_and_overridable(tmp_path):
    from debugger.config import resolve
    from debugger.localization.ranking import FEATURES, INFILL, MUTATION, WEIGHTS_FILE, weights_for
    from debugger.source import InputError
    fitted = json.loads(WEIGHTS_FILE.read_text())
    assert set(fitted["weights"]) <= set(FEATURES) and fitted["fitted_on"]["bugs"] > 0
    w = weights_for({"surprisal": 0.0})
    assert w["surprisal"] == 0.0 and set(w) == set(FEATURES)
    assert w["spectrum"] == fitted["weights"].get("spectrum", 0.0)
    with pytest.raises(ValueError, match="unknown localization weight"):
        weights_for({"spectrun": 1.0})
    with pytest.raises(InputError, match="spectrun"):
        resolve(tmp_path, {"weights": {"spectrun": 1.0}})
    # the first ranking's weights: saved apart when the final ones were refit beside the probe, else the
    # final ones without the second-round features; overrides apply to both
    first = weights_for({"recent": 0.5}, first_round=True)
    own = (fitted.get("first_round") or {}).get("weights")
    assert first["recent"] == 0.5 and not any(first[f] for f in INFILL + MUTATION)
    assert first["spectrum"] == (own or fitted["weights"]).get("spectrum", 0.0)


def test_suspect_ranges_are_the_failing_tests_functions_best_first(project):
    from debugger.localization.ranking import suspect_ranges
    root = project("calc")
    src = load(root / "calc.py")
    rep = baseline(src)
    assert sorted(rep.failing) == ["tests/test_calc.py::test_mul", "tests/test_calc.py::test_square"]
    # mul runs only in failing tests (Ochiai 1); square in one of two; add in none
    assert suspect_ranges(src, rep) == [(5, 6), (9, 10)]


def test_a_statement_surprisal_did_not_read_is_not_ranked_last(tmp_path):
    # a big file's surprisal reads only its likeliest functions: the statements it left out get the
    # median of those it read, so the model's silence neither lifts nor buries them
    from debugger.localization.ranking import suspects
    src, rep = branchy(tmp_path)
    read = {3: [4.0], 6: [1.0], 7: [2.0]}
    cands = {c.span.start_line: c.features for c in suspects(src, rep, read)[0]}
    assert set(read) < set(cands)
    assert [cands[ln]["surprisal_rank"] for ln in (6, 7, 3)] == [0.0, 0.5, 1.0]
    unread = [f for ln, f in cands.items() if ln not in read]
    assert all(f["surprisal"] == cands[7]["surprisal"] == 0.5 and f["surprisal_rank"] == 0.5 for f in unread)
    # without any reading, no statement carries a surprisal feature
    assert all(not c.features["surprisal"] and not c.features["surprisal_rank"]
               for c in suspects(src, rep, None)[0])


def test_infill_pieces_cut_each_statement_out_of_its_function():
    from debugger.localization.ranking import INFILL_AFTER, INFILL_BEFORE, ScoredSpan, infill_pieces
    body = "".join(f"    x{i} = {i}\n" for i in range(1, 100))
    text = "import os\n\n\ndef f():\n" + body + "\n\ndef g():\n    return 1\n"
    lines = text.splitlines(keepends=True)
    at = lambda ln: ScoredSpan(ln, ln, "statement", 0.0, "")  # noqa: E731
    (before, middle, after), (b2, m2, a2), (b3, m3, a3) = infill_pieces(text, [at(6), at(60), at(107)])
    # near the top of f: from f's header, not from the module's imports, to 25 lines below
    assert before == "".join(lines[3:5]) and middle == lines[5] and after == "".join(lines[6:6 + INFILL_AFTER])
    # deep inside: at most 40 lines above
    assert b2 == "".join(lines[60 - 1 - INFILL_BEFORE:59]) and m2 == "    x56 = 56\n"
    # g's own lines only: nothing of f leaks into its window
    assert (b3, m3, a3) == ("def g():\n", "    return 1\n", "")


def test_locate_rescores_the_first_rankings_top_with_the_infill_pass(tmp_path):
    from debugger.localization.passes import locate
    from debugger.localization.ranking import INFILL, INFILL_K, weights_for
    src, rep = branchy(tmp_path)
    first = localize(src, rep)
    # the statement the infill pass finds odd is not the first ranking's top
    odd = first.statements[1]
    odd_text = src.text.splitlines()[odd.start_line - 1].strip()
    gen = ScoringModel(odd_text)
    w = weights_for({"infill_regret_rank": 50.0})
    loc, reads = locate(src, rep, gen, weights=w)
    assert len(gen.pieces) == min(INFILL_K, len(first.statements)) > 1
    assert (loc.statements[0].start_line, loc.statements[0].end_line) == (odd.start_line, odd.end_line)
    assert "infill_regret_rank 1.00" in loc.statements[0].reason
    assert reads.surprisal and set(reads.infill) == {(s.start_line, s.end_line) for s in first.statements[:INFILL_K]}
    # without a scorer (the fake and remote models have none) the ranking is the test run's alone
    plain, none = locate(src, rep, None, weights=w)
    assert [s.start_line for s in plain.statements] == [s.start_line for s in first.statements]
    assert none.surprisal is None and none.infill is None
    # weights that give the infill features nothing skip its pass (a pass per statement is not free)
    _, skipped = locate(src, rep, ScoringModel(odd_text), weights=weights_for({f: 0.0 for f in INFILL}))
    assert skipped.surprisal and skipped.infill is None


HEADERS = '''import re

ENTITY_RE = re.compile(r"&#[0-9]+;")
HEADER_RE = re.compile(r"^(#{1,6}) (.*?)#*$")
UNUSED = {"a": 1}


def header(line):
    m = HEADER_RE.match(line)
    return "<h%d>%s</h%d>" % (len(m.group(1)), m.group(2).strip(), len(m.group(1)))


def entities(text):
    return ENTITY_RE.sub("?", text)
'''
HEADER_TESTS = '''from m import entities, header


def test_closing_hashes_after_an_escaped_hash():
    assert header("### H3 \\\\###") == "<h3>H3 #</h3>"
'''


def test_data_built_at_import_is_ranked_by_what_reads_it_and_by_the_failing_tests_words(tmp_path):
    # the pattern's line runs at import, for every test: coverage and lateness point only at its reader
    from debugger.localization.ranking import failing_test_words, suspects
    src, rep = tiny_project(tmp_path, HEADERS, HEADER_TESTS)
    assert rep.failing
    feats = {c.span.start_line: c.features for c in suspects(src, rep)[0]}
    assert feats[4]["feeds"] == feats[9]["recent"] > 0  # HEADER_RE: its reader's lateness
    assert feats[3]["feeds"] == 0.0 == feats[5]["feeds"]  # read by nothing the test ran / by nothing at all
    assert feats[9]["feeds"] == 0.0 == feats[10]["feeds"]  # statements inside functions are their own evidence
    words = failing_test_words(src, rep)
    assert {"heade", "escap", "closi"} <= words and "asser" not in words  # the test's code; pytest's words out
    assert feats[4]["test_text"] > feats[3]["test_text"]  # "HEADER_RE" is what the test is about
    assert localize(src, rep, weights={"feeds": 1.0, "recent": 0.4}).statements[0].start_line == 4
    # a test the report names but whose file is gone: its message's words only, no error
    (src.root / "tests" / "test_m.py").unlink()
    assert failing_test_words(src, rep) <= words
