"""Plausible is not correct: selection among the candidates that pass, the differential check, doctests as
checks, and the confidence the tool reports. Candidates come from a scripted generator; the tests run for real."""
from __future__ import annotations

import sys
import time

import pytest
from pathlib import Path

from debugger.choose import Choice, choose
from debugger.config import FixConfig
from debugger.differ import Comparison, changed_functions, compare, float_params, generated, neighbours
from debugger.generate import Candidate
from debugger.pipeline import Models, fix
from debugger.source import Edit, load
from debugger.testrun import default_command, run_tests

from conftest import workspace
from fakes import Scripted
from debugger.validate import Verdict

SHIPPING = ('def shipping_cost(total: float) -> float:\n'
            '    """Orders of 50 or more ship free; below that, shipping is 4.99."""\n'
            '    if total > 50:\n'
            '        return 0.0\n'
            '    return 4.99\n')
SHIPPING_TESTS = ("from shop import shipping_cost\n\n\n"
                  "def test_large():\n    assert shipping_cost(80) == 0.0\n\n\n"
                  "def test_fifty():\n    assert shipping_cost(50) == 0.0\n\n\n"
                  "def test_small():\n    assert shipping_cost(10) == 4.99\n")
AREA = 'def area(w: int, h: int) -> int:\n    """>>> area(2, 3)\n    6\n    """\n    return w + h\n'
AREA_TESTS = "from shop import area\n\n\ndef test_area():\n    assert area(3, 4) == 12\n"


def project(tmp_path: Path, code: str, tests: str) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    (root / "tests" / "test_shop.py").write_text(tests)
    (root / "shop.py").write_text(code)
    return root / "shop.py"


def answers(line: int, plain: list[str], hinted: list[str] = ()) -> Scripted:
    """Infill answers by span and by prompt: the plain (greedy) prompt and the one that shows the failure."""
    return Scripted(line, plain, list(hinted))


def cfg(**kw) -> FixConfig:
    base = dict(test=f"{sys.executable} -m pytest -q", samples=1, rounds=0, surprisal=False, timeout=60,
                test_timeout=5, budget=120, select=20.0, formats=["mutant", "infill"])
    return FixConfig(**(base | kw))


def test_neighbours_move_one_argument_at_a_time():
    near = neighbours(((50, "ab"), {"cap": [1, 2]}), floats=frozenset({0}))
    assert ((49.5, "ab"), {"cap": [1, 2]}) in near and ((51, "ab"), {"cap": [1, 2]}) in near
    assert ((50, ""), {"cap": [1, 2]}) in near and ((50, "ba"), {"cap": [1, 2]}) in near
    assert ((50, "ab"), {"cap": []}) in near and ((50, "ab"), {"cap": [1, 2, 2]}) in near
    assert all(sum(a != b for a, b in zip(n[0], (50, "ab"))) + (n[1] != {"cap": [1, 2]}) == 1 for n in near)
    assert ((50.5, "ab"), {"cap": [1, 2]}) not in neighbours(((50, "ab"), {"cap": [1, 2]}))  # not a float parameter
    assert float_params(SHIPPING, "shipping_cost") == frozenset({0, "total"})


def test_changed_functions_names_what_the_candidates_touch():
    other = SHIPPING + "\n\nclass C:\n    def m(self):\n        return 1\n"
    assert changed_functions(other, [other.replace("> 50", ">= 50")]) == (["shipping_cost"], False)
    assert changed_functions(other, [other.replace("return 1", "return 2")]) == (["C.m"], False)  # a method
    assert changed_functions(other, [other.replace("class C:", "class C:\n    n = 1")]) == ([], True)  # its body
    prop = "class P:\n    @property\n    def x(self):\n        return 1\n\n    @x.setter\n    def x(self, v):\n        pass\n"
    assert changed_functions(prop, [prop.replace("return 1", "return 2")]) == (["P.x"], False)  # the getter
    assert changed_functions("def f(:\n", ["def f():\n    pass\n"]) == ([], True)


@pytest.mark.integration
def test_tests_allow_two_fixes_and_the_user_is_told(tmp_path):
    """`>= 50` (the model and a probe mutant) and `> 49` (another probe mutant) both pass the tests; they
    differ on 49.5, a neighbour of the recorded 50 (the parameter is a float). Both are reported."""
    path = project(tmp_path, SHIPPING, SHIPPING_TESTS)
    res = fix(str(path), cfg(), models=Models(generator=answers(3, ["    if total >= 50:\n"])))
    assert res.status == "fixed" and "+    if total >= 50:" in res.diff
    assert res.confidence["level"] == "low", res.confidence
    assert any("more than one fix" in r for r in res.confidence["reasons"])
    assert [a["candidate"] for a in res.alternatives] == ["#2 mutant line 3: 50 -> 49"]
    bad = next(d for d in res.disagreements if d["input"] == "shipping_cost(49.5)")
    assert set(bad["results"].values()) == {"= 4.99", "= 0.0"}
    assert res.selection["candidates"] == 2 and res.selection["recorded"] >= 3 and res.selection["seconds"] >= 0
    assert res.winner["sources"] == 2  # the probe and the model's prompt
    # no time to look further (--select 0): the model is not asked; what passed (both mutants) is still compared
    res = fix(str(path), cfg(select=0.0), models=Models(generator=answers(3, ["    if total >= 50:\n"])))
    assert res.status == "fixed" and res.tokens == 0 and res.candidates["plausible"] == 2
    assert res.confidence["level"] == "low" and len(res.alternatives) == 1


@pytest.mark.integration
def test_selection_after_a_models_fix_asks_only_for_second_opinions_on_its_place(tmp_path):
    """Once the model's infill of line 3 passes, the search asks only the prompts that cover line 3 (the hinted
    infill of it) and ends, well inside its window; once a probe mutant passes (a blind edit), it goes on
    through the round's other prompts too, for the model's view of the failure."""
    path = project(tmp_path, SHIPPING, SHIPPING_TESTS)
    asked = []
    gen = Scripted(3, ["    if total >= 50:\n"], ["    if total >= 50:\n"], on_call=asked.append)
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and "+    if total >= 50:" in res.diff
    after = asked[next(i for i, p in enumerate(asked) if p.start_line == 3) + 1:]
    assert after and all(p.start_line <= 3 <= p.end_line for p in after), [(p.start_line, p.end_line) for p in after]
    assert res.winner["sources"] == 2 and res.selection["seconds"] < 20
    # greedy answers first (a prompt's samples are one source with its greedy one); then, the fix having two
    # sources (thin: see pipeline._thin), the samples, for a different program of the same behaviour
    kinds = [(g, n > 0) for p, g, n in gen.calls[-len(after):]]
    assert kinds == sorted(kinds, reverse=True) and {(True, False), (False, True)} <= set(kinds), kinds
    asked.clear()
    res = fix(str(path), cfg(formats=["mutant", "infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and res.candidates["plausible"] >= 2
    assert any(not p.start_line <= 3 <= p.end_line for p in asked), [(p.start_line, p.end_line) for p in asked]


@pytest.mark.integration
def test_two_programs_that_agree_from_two_prompts_are_high_confidence(tmp_path):
    path = project(tmp_path, AREA, AREA_TESTS)
    gen = answers(5, ["    return w * h\n"], ["    return h * w\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and res.confidence["level"] == "high", res.confidence
    assert res.alternatives == [] and res.disagreements == [] and res.selection["inputs"] > 5
    assert any("2 different programs agree" in r for r in res.confidence["reasons"])
    assert any("doctest" in r for r in res.confidence["reasons"])
    # the same text from one prompt's samples is one source: medium
    gen = answers(5, ["    return w * h\n", "    return w * h\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and res.confidence["level"] == "medium", res.confidence


@pytest.mark.integration
def test_a_candidate_that_breaks_a_doctest_loses(tmp_path):
    """Both pass the project's test (area(3, 4) == 12); only `w * h` keeps the docstring's example."""
    path = project(tmp_path, AREA, AREA_TESTS)
    gen = answers(5, ["    return w * h if w != 2 else 0\n"], ["    return w * h\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and "+    return w * h\n" in res.diff, res.diff
    assert res.alternatives and res.confidence["level"] == "low"


VOWELS = ('def vowels(word: str) -> int:\n'
          '    """How many vowels `word` has, capitals counted too: vowels("Apple") == 2.\n\n'
          '    vowels("") -> 0; vowels("sky") returns 0 (no literal answer\'s example is skipped: vowels("x") == x)\n'
          '    """\n'
          '    return sum(c in "aeiou" for c in word) - 1\n')
VOWELS_TESTS = "from shop import vowels\n\n\ndef test_vowels():\n    assert vowels('banana') == 3\n"


@pytest.mark.integration
def test_an_example_the_docstring_states_in_words_is_a_check(tmp_path):
    """Both pass the project's test; only the one that counts capitals keeps `vowels("Apple") == 2`."""
    path = project(tmp_path, VOWELS, VOWELS_TESTS)
    gen = answers(6, ['    return sum(c in "aeiou" for c in word)\n'], ['    return sum(c in "aeiouAEIOU" for c in word)\n'])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and 'aeiouAEIOU' in res.diff, res.diff
    assert res.alternatives and res.confidence["level"] == "low"  # the tests allowed the other one
    src = load(str(path))
    before = run_tests(src.root, default_command(), target=src.rel, timeout=60)
    good = VOWELS.replace('"aeiou" for c in word) - 1', '"aeiouAEIOU" for c in word)')
    cmp = compare(workspace(src.root, timeout=60, test_timeout=5), src,
                  {"good": good, "bad": VOWELS.replace(" - 1\n", "\n")}, before)
    assert cmp.doctests["good"]["tests"] == ["shop.vowels (stated)"] and cmp.doctests["good"]["failed"] == []
    assert cmp.doctests["bad"]["failed"] == ["shop.vowels (stated)"]
    assert cmp.doctests["good"]["attempted"] == 3  # Apple, "" and sky: `== x` is no literal


def test_compare_reports_inputs_where_candidates_differ_and_drops_noise(tmp_path):
    code = ("import random\n\n\ndef pick(xs: list) -> int:\n    return xs[0] + random.random() * 0\n\n\n"
            "def jitter(x: int) -> float:\n    return x + random.random()\n")
    tests = ("from shop import pick, jitter\n\n\ndef test_pick():\n    assert pick([3, 1, 2]) == 3\n\n\n"
             "def test_jitter():\n    assert jitter(1) >= 1\n")
    path = project(tmp_path, code, tests)
    src = load(str(path))
    before = run_tests(src.root, default_command(), target=src.rel, timeout=60)
    a = code.replace("xs[0] + random.random() * 0", "max(xs)").replace("x + random.random()", "x + random.random() ")
    b = code.replace("xs[0] + random.random() * 0", "xs[0]").replace("x + random.random()", "random.random() + x")
    cmp = compare(workspace(src.root, timeout=60, test_timeout=5), src, {"a": a, "b": b}, before)
    assert cmp.functions == ["pick", "jitter"] and cmp.recorded == 2 and not cmp.errors
    assert cmp.classes == [["a"], ["b"]]
    assert all(d.input.startswith("pick(") for d in cmp.disagreements)  # jitter's answers are noise: dropped
    assert any(d.input == "pick([3])" or d.input == "pick([2, 1, 3])" for d in cmp.disagreements)


def test_generated_inputs_are_like_the_recorded_ones_and_the_same_every_run():
    import ast
    recorded = [repr((([3, 1], "ab"), {"sep": None})), repr(((7, "x"), {})), repr(((["obj"], "held"), {}))]
    held = [None, None, ("pickle", [0])]  # the third passed an object: not varied
    made = generated(recorded, held, 30, optional=frozenset({1}))
    assert made == generated(recorded, held, 30, optional=frozenset({1})) and 10 <= len(made) <= 30
    calls = [ast.literal_eval(c) for c in made]
    assert all(isinstance(a[0], (list, int)) and not isinstance(a[0], bool) for a, _ in calls)
    assert any(a[1] is None for a, _ in calls) and all(isinstance(a[1], (str, type(None))) for a, _ in calls)
    assert all(set(k) == {"sep"} for a, k in calls if isinstance(a[0], list)) and "held" not in " ".join(made)
    assert all(abs(x) <= 24 for a, _ in calls for x in (a[0] if isinstance(a[0], list) else [a[0]]))
    assert generated([], None) == [] and generated(recorded[:1], None, 0) == []


def test_generated_inputs_without_hypothesis_are_refused_before_any_test_runs(tmp_path, monkeypatch):
    import importlib.util
    from debugger.config import resolve
    from debugger.errors import InputError
    path = project(tmp_path, AREA, AREA_TESTS)
    assert resolve(path.parent, {"generated": 30}).generated == 30
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "hypothesis" else real(name, *a))
    assert resolve(path.parent).generated == 0
    with pytest.raises(InputError, match=r"debugger\[generate\]"):
        resolve(path.parent, {"generated": 30})


TOP = ('def top(words: list, n: int) -> list:\n'
       '    """The n most frequent words, ties broken alphabetically."""\n'
       "    return sorted(set(words))[:n]\n")
TOP_TESTS = "from shop import top\n\n\ndef test_top():\n    assert top(['a', 'b', 'b'], 1) == ['b']\n"


@pytest.mark.integration
def test_generated_inputs_tell_apart_what_the_neighbours_do_not(tmp_path):
    # two fixes that pass: ties broken alphabetically, and ties in the order first seen (Counter.most_common);
    # the recorded call and its one-step neighbours have no tie that the two orders break differently
    path = project(tmp_path, TOP, TOP_TESTS)
    src = load(str(path))
    before = run_tests(src.root, default_command(), target=src.rel, timeout=60)
    a = TOP.replace("    return sorted(set(words))[:n]\n", "    return sorted(set(words), key=lambda w: (-words.count(w), w))[:n]\n")
    b = TOP.replace("    return sorted(set(words))[:n]\n",
                    "    import collections\n    return [w for w, _ in collections.Counter(words).most_common()][:n]\n")
    ws = workspace(src.root, timeout=60, test_timeout=5)
    alone = compare(ws, src, {"a": a, "b": b}, before)
    assert alone.recorded == 1 and alone.generated == 0 and alone.classes == [["a", "b"]]
    more = compare(ws, src, {"a": a, "b": b}, before, generate=40)
    assert 10 <= more.generated and more.inputs == alone.inputs + more.generated
    assert sorted(more.classes) == [["a"], ["b"]] and more.disagreements
    assert not more.edges  # generated inputs never count as the edges a fix moved


CART = ("class Cart:\n"
        "    def __init__(self, prices):\n        self.prices = list(prices)\n        self.paid = False\n\n"
        "    def total(self, discount: float) -> float:\n"
        "        return sum(self.prices) - discount\n\n"
        "    @classmethod\n    def empty(cls, note: str):\n        return cls([])\n")
CART_TESTS = ("from shop import Cart\n\n\ndef test_total():\n    cart = Cart([10, 20])\n    cart.paid = True\n"
              "    assert cart.total(0.5) == 29.5 - 1\n\n\ndef test_empty():\n    assert Cart.empty('x').prices == []\n\n\n"
              "class Gift(Cart):\n    def total(self, discount):\n        return super().total(discount)\n\n\n"
              "def test_gift():\n    gift = Gift([10])\n    gift.paid = True\n    assert gift.total(2.0) > 0\n")


@pytest.mark.integration
def test_methods_are_compared_on_the_instances_the_tests_made(tmp_path):
    """A method's candidates run on a copy of the instance the test called it on (its attributes as they were
    when the call began: `paid` set after construction), made an instance of each candidate's class; what
    they return and what they do to the instance are compared."""
    path = project(tmp_path, CART, CART_TESTS)
    src = load(str(path))
    before = run_tests(src.root, default_command(), target=src.rel, timeout=60)
    fixes = {"a": CART.replace("- discount", "- discount * 2"),  # 30 - 1.0: passes, as does b
             "b": CART.replace("- discount", "- discount - 1 if self.paid else 0"),
             "c": CART.replace("- discount", "- discount - 1 if self.paid else -1"),  # b's twin off the test's path
             "d": CART.replace("        return sum(self.prices) - discount",
                               "        self.paid = False\n        return sum(self.prices) - discount * 2")}
    # e is a's twin except on a subclass the tests define: its instances are rebuilt, for every candidate, as
    # instances of a subclass of that candidate's class (Cart.total is still the candidate's own, not Gift's)
    fixes["e"] = fixes["a"].replace("discount * 2", "discount * 2 - (type(self).__name__ == 'Gift')")
    cmp = compare(workspace(src.root, timeout=60, test_timeout=5), src, fixes, before)
    assert cmp.functions == ["Cart.total"] and cmp.recorded == 2 and not cmp.errors, cmp
    assert cmp.inputs > 1 and not cmp.skipped
    assert sorted(cmp.classes) == [["a"], ["b", "c"], ["d"], ["e"]], cmp.classes  # b and c agree: `paid` was True
    said = {d.input: d.results for d in cmp.disagreements}
    assert said["Cart.total(0.5)"]["a"] == "= 29.0" and said["Cart.total(0.5)"]["b"] == "= 29.0" or \
        any(r["a"] != r["b"] for r in said.values())
    assert any("; self -> " in r["d"] for r in said.values())  # what d did to the instance is an answer too
    empty = compare(workspace(src.root, timeout=60, test_timeout=5), src,
                    {"a": CART.replace("cls([])", "cls(())"), "b": CART.replace("cls([])", "cls([0])")}, before)
    assert empty.functions == ["Cart.empty"] and empty.inputs and empty.classes == [["a"], ["b"]]


def test_calls_with_objects_replay_them_as_they_were(tmp_path):
    """An object the test passes (a class of the test module) is pickled as it was when the call began and
    fills its hole on every replay; its neighbours keep it. One that does not pickle (a lambda's result
    holder) makes its call unrecorded."""
    code = "def size(x, extra: int = 0) -> int:\n    return len(x) + 1 + extra\n"
    tests = ("from shop import size\n\n\nclass Box:\n    def __init__(self, n):\n        self.n = n\n\n"
             "    def __len__(self):\n        return self.n\n\n\n"
             "def test_size():\n    assert size(Box(2), extra=0) == 2\n\n\n"
             "def test_lambda():\n    assert size([1], extra=0) == 1 or size(Box(lambda: 1), extra=1)\n")
    path = project(tmp_path, code, tests)
    src = load(str(path))
    before = run_tests(src.root, default_command(), target=src.rel, timeout=60)
    fixed = code.replace(" + 1", "")
    cmp = compare(workspace(src.root, timeout=60, test_timeout=5), src,
                  {"a": fixed, "b": fixed.replace("len(x)", "x.__len__()"), "c": fixed.replace("+ extra", "+ abs(extra)")},
                  before)
    assert cmp.recorded == 2 and cmp.inputs > 4 and not cmp.skipped and not cmp.errors, cmp  # Box(2), [1]
    assert cmp.classes == [["a", "b"], ["c"]], cmp.classes
    assert any(d.input == "size(<object>, -1)" for d in cmp.disagreements), cmp.disagreements


def test_choose_without_a_comparison_ranks_by_sources():
    def verdict(line: str, origin: str, kind: str = "infill") -> Verdict:
        text = f"def f(x):\n{line}"
        return Verdict(Candidate(Edit(2, 2, line), text, kind, origin, 3, changed=2), True)
    a, b = verdict("    return x + 1\n", "mutant line 2", "mutant"), verdict("    return 1 + x\n", "infill greedy @2-2")
    votes = {}
    from debugger.generate import ast_key
    votes[ast_key(a.candidate.text)] = {"probe"}
    votes[ast_key(b.candidate.text)] = {"p1", "p2"}
    c = choose([a, b], votes, Comparison())
    assert c.winner is b and c.votes[id(b)] == 2 and c.confidence["level"] != "high"  # nothing executed agrees


@pytest.mark.integration
def test_a_candidate_that_hangs_off_the_tests_path_is_cut_short(tmp_path):
    code = "def countdown(n: int) -> int:\n    return n + 1\n"
    tests = "from shop import countdown\n\n\ndef test_countdown():\n    assert countdown(3) == 0\n"
    path = project(tmp_path, code, tests)
    src = load(str(path))
    before = run_tests(src.root, default_command(), target=src.rel, timeout=60)
    loops = "def countdown(n: int) -> int:\n    while n != 0:\n        n -= 1\n    return n\n"  # never ends below 0
    plain = "def countdown(n: int) -> int:\n    return 0\n"
    cmp = compare(workspace(src.root, timeout=60, test_timeout=5), src, {"a": loops, "b": plain}, before)
    hung = [d for d in cmp.disagreements if d.results["a"] == "timeout"]
    assert hung and hung[0].results["b"] == "= 0" and cmp.classes == [["a"], ["b"]]
    assert cmp.seconds < 30


@pytest.mark.integration
def test_a_doctest_that_fails_everywhere_is_not_held_against_the_fix(tmp_path):
    stale = AREA + '\n\ndef other():\n    """>>> other()\n    2\n    """\n    return 1\n'  # out of date, bug or not
    path = project(tmp_path, stale, AREA_TESTS)
    gen = answers(5, ["    return w * h\n"], ["    return h * w\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and res.confidence["level"] == "high", res.confidence
    assert any("fail with every version, the original too" in r for r in res.confidence["reasons"])


@pytest.mark.integration
def test_a_second_round_tries_the_statements_below_the_first_rounds(tmp_path):
    """Nothing in round 0 fixes a test, so the base stays: round 1 infills the next top_k statements
    instead of asking the same greedy questions again."""
    path = project(tmp_path, "def price(qty, unit):\n    total = qty * unit\n    fee = 2\n    total = total + fee\n"
                   "    return total\n", "from shop import price\n\n\ndef test_price():\n    assert price(2, 3) == 9\n")
    fixes = {2: "    total = qty * unit + 1\n", 3: "    fee = 3\n", 4: "    total = total + fee + 1\n",
             5: "    return total + 1\n"}
    ranked = fix(str(path), cfg(formats=["infill"], top_k=3, select=0.0), models=Models(generator=answers(0, [])))
    second = [s["start_line"] for s in ranked.localization if s["kind"] != "function"][1]
    gen = answers(second, [fixes[second]])
    assert fix(str(path), cfg(formats=["infill"], top_k=1, select=0.0), models=Models(generator=gen)).status == "not_fixed"
    res = fix(str(path), cfg(formats=["infill"], top_k=1, rounds=1, select=0.0), models=Models(generator=gen))
    assert res.status == "fixed" and res.winner["round"] == 1 and res.winner["start_line"] == second


@pytest.mark.integration
def test_a_repair_that_finds_nothing_says_what_it_tried(tmp_path):
    path = project(tmp_path, AREA, AREA_TESTS)
    wrong = answers(5, ["    return w - h\n", "    return w * h + 1\n"])
    res = fix(str(path), cfg(formats=["infill"], samples=0), models=Models(generator=wrong))
    assert res.status == "not_fixed"
    assert "2 validated: 2 infill; at lines 5; the closest left 1 test(s) failing" in res.error, res.error


def test_no_validation_starts_that_would_end_past_the_budget(tmp_path, monkeypatch):
    """With less of the budget left than a validation takes (the median of those run so far), the next candidate,
    the fix, is left untested before the budget ends, not tested past it; the miss says the budget ran out."""
    import time as real_time

    import debugger.pipeline as pl

    class Clock:  # the repair's clock, moved on to half a validation before the budget's end
        skew = 0.0

        def monotonic(self):
            return real_time.monotonic() + self.skew

        def __getattr__(self, name):
            return getattr(real_time, name)

    clock, tested, validate, ends = Clock(), [], pl.validate, []
    context = pl.context

    def start(*a, **k):
        ctx = context(*a, **k)
        ends.append(ctx)
        return ctx

    def timed(ws, src, c, data, before):
        tested.append(c.text)
        v = validate(ws, src, c, data, before)
        clock.skew += ends[0].deadline - clock.monotonic() - v.seconds / 2
        return v
    monkeypatch.setattr(pl, "time", clock)
    monkeypatch.setattr(pl, "validate", timed)
    monkeypatch.setattr(pl, "context", start)
    path = project(tmp_path, SHIPPING, SHIPPING_TESTS)
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=Scripted(3, ["    if total > 51:\n",
                                                                                     "    if total >= 50:\n"])))
    assert res.status == "not_fixed" and len(tested) == 1 and res.candidates["unvalidated"] == 1
    assert "budget of 120s ran out" in res.error


def test_a_prompt_that_would_not_be_read_before_the_budget_ends_is_not_asked(tmp_path):
    """An engine that says how long a prompt takes to its first token (`lead`): a prompt that would not be read
    before the budget's end is not sent, and the miss says the budget ran out."""
    asked = []

    class Slow(Scripted):
        def lead(self, prompt):
            return 1000.0 if prompt.start_line == 3 else 0.0
    gen = Slow(3, ["    if total >= 50:\n"], on_call=asked.append)
    res = fix(str(project(tmp_path, SHIPPING, SHIPPING_TESTS)), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "not_fixed" and asked and all(p.start_line != 3 for p in asked)
    assert "budget of 120s ran out" in res.error and res.seconds < 120


def test_the_budget_counts_from_the_given_start(tmp_path):
    """`t0` (the command line's process start) starts the budget's clock: a start 500 s ago leaves no budget."""
    path = project(tmp_path, SHIPPING, SHIPPING_TESTS)
    gen = Scripted(3, ["    if total >= 50:\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen), t0=time.monotonic() - 500)
    assert res.status == "not_fixed" and res.seconds >= 500 and "budget of 120s ran out" in res.error
    assert fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen)).status == "fixed"


def test_no_candidate_is_tested_past_the_budget(tmp_path, monkeypatch):
    """The first validation runs past the repair's budget (its clock pushed on): the prompt's second candidate,
    the fix, is left untested, and the miss says so."""
    import time as real_time

    import debugger.pipeline as pl

    class Clock:  # the repair's clock, pushed past any budget once the first candidate has been tested
        skew = 0.0

        def monotonic(self):
            return real_time.monotonic() + self.skew

        def __getattr__(self, name):
            return getattr(real_time, name)

    clock, tested, validate = Clock(), [], pl.validate

    def slow(ws, src, c, data, before):
        tested.append(c.text)
        v = validate(ws, src, c, data, before)
        clock.skew = 10_000.0
        return v
    monkeypatch.setattr(pl, "time", clock)
    monkeypatch.setattr(pl, "validate", slow)
    path = project(tmp_path, SHIPPING, SHIPPING_TESTS)
    gen = Scripted(3, ["    if total > 51:\n", "    if total >= 50:\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "not_fixed" and len(tested) == 1 and res.candidates["unvalidated"] == 1
    assert "1 left untested at the budget's end" in res.error and "budget of 120s ran out" in res.error
    clock.skew, tested[:] = 0.0, []
    monkeypatch.setattr(pl, "validate", validate)
    assert fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen)).status == "fixed"


def test_a_probe_mutant_alone_that_no_passing_test_vouches_for_is_not_offered(tmp_path):
    """The visible test is the one failing test (as on a real project's new test): the probe's mutants of
    `total > 50` that pass it are blind edits nothing else supports, shown but not offered; with the project's
    other tests run too (they run the line) the `>=` mutant is the fix; and where the model writes the same
    behaviour, two sources vouch for it."""
    from debugger.render import Renderer

    path = project(tmp_path, SHIPPING, SHIPPING_TESTS)
    one = f"{sys.executable} -m pytest -q tests/test_shop.py::test_fifty"
    res = fix(str(path), cfg(test=one, formats=["mutant"]), models=Models(generator=Scripted(3, [])))
    assert res.status == "not_fixed" and res.exit_code == 1 and "not offered as a fix" in res.error, res.error
    assert res.unclaimed and res.unclaimed[0]["diff"].count("\n+    ") == 1 and res.unclaimed[0]["why"]
    assert path.read_text() == SHIPPING and res.diff == "" and res.to_json()["unclaimed"] == res.unclaimed
    from rich.console import Console
    out = Console(record=True, width=120)
    Renderer(Console(file=open("/dev/null", "w"))).summary(out, res)
    assert "not offered as a fix" in out.export_text()
    res = fix(str(path), cfg(formats=["mutant"]), models=Models(generator=Scripted(3, [])))
    assert res.status == "fixed" and "+    if total >= 50:" in res.diff and not res.unclaimed
    res = fix(str(path), cfg(test=one, formats=["mutant", "infill"]),
              models=Models(generator=Scripted(3, ["    if total >= 50:\n"])))
    assert res.status == "fixed" and "+    if total >= 50:" in res.diff and res.winner["sources"] >= 2


def test_a_blind_mutant_that_would_not_be_offered_does_not_end_the_search(tmp_path):
    """The probe's lone mutant passes the one failing test first; it would not be offered, so it starts no
    selection window (here 0 s, which would end the search at once): the prompts go on, the hinted sample
    writes the same program, and two sources of different kinds make it a fix."""
    path = project(tmp_path, SHIPPING, SHIPPING_TESTS)
    one = f"{sys.executable} -m pytest -q tests/test_shop.py::test_fifty"
    asked = []
    res = fix(str(path), cfg(test=one, select=0.0),
              models=Models(generator=Scripted(3, [], hinted=["    if total >= 50:\n"], on_call=asked.append)))
    assert res.status == "fixed" and "+    if total >= 50:" in res.diff and res.winner["sources"] >= 2, res.error
    assert any(p.head for p in asked)  # the hinted prompt, asked after the mutant had passed


def test_sources_of_different_kinds_vouch_without_a_second_program():
    """One program and nothing to run it against: two prompts are medium (they share the model's bias), three
    prompts or the probe's blind edit beside one prompt are high; a trap never is."""
    from debugger.generate import ast_key

    def one(sources: set[str], kind: str = "infill", line: str = "    return x + 1\n") -> Choice:
        v = Verdict(Candidate(Edit(2, 2, line), f"def f(x):\n{line}", kind, "infill greedy @2-2", 3, changed=2), True)
        return choose([v], {ast_key(v.candidate.text): sources}, Comparison())
    assert one({"p1", "p2"}).confidence["level"] == "medium"
    assert one({"p1", "p2", "p3"}).confidence["level"] == "high"
    c = one({"probe", "p1"})
    assert c.confidence["level"] == "high" and any("probe's blind edit" in r for r in c.confidence["reasons"])
    assert one({"probe"}, "mutant").confidence["level"] == "medium"
    # the search asks its samples for second opinions only while the fix is thin (fewer than three sources)
    from debugger.pipeline import _thin
    v = Verdict(Candidate(Edit(2, 2, "    return x\n"), "def f(x):\n    return x\n", "infill", "g", 3, changed=2), True)
    assert _thin([v], {ast_key(v.candidate.text): {"p1", "p2"}})
    assert not _thin([v], {ast_key(v.candidate.text): {"p1", "p2", "probe"}})
    w = Verdict(Candidate(Edit(2, 2, "    return +x\n"), "def f(x):\n    return +x\n", "infill", "g", 3, changed=2), True)
    assert not _thin([v, w], {ast_key(v.candidate.text): {"p1"}, ast_key(w.candidate.text): {"p2"}})  # two programs
    v = Verdict(Candidate(Edit(2, 2, "    pass\n"), "def f(x):\n    pass\n", "mutant", "mutant line 2", 3, changed=2), True)
    v.candidate.suspicions = ["it deletes a statement"]
    assert choose([v], {ast_key(v.candidate.text): {"probe", "p1", "p2"}}, Comparison()).confidence["level"] == "medium"


PAGES = ('def page_count(items: int, per_page: int) -> int:\n'
         '    """Pages needed for `items`, `per_page` a page; no items still shows one (empty) page."""\n'
         '    return items // per_page + 1\n')
PAGES_TESTS = ("from shop import page_count\n\n\n"
               "def test_exact():\n    assert page_count(10, 10) == 1\n\n\n"
               "def test_partial():\n    assert page_count(15, 10) == 2\n")


def test_a_fix_that_changes_an_answer_at_an_edge_no_test_passes_is_not_high(tmp_path):
    """Two prompts write two programs that agree (ceiling division): both pass and both make page_count(0, 10)
    0 where the code said 1, which no test asks about (the docstring's rule says 1). That is medium, and says
    so, also where they are one program from two prompts; two programs that keep the edge's answer stay high."""
    path = project(tmp_path, PAGES, PAGES_TESTS)
    gen = answers(3, ["    return (items + per_page - 1) // per_page\n"], ["    return (per_page - 1 + items) // per_page\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and res.confidence["level"] == "medium", res.confidence
    assert any("page_count(0, 10), an edge no test passes" in r for r in res.confidence["reasons"])
    # both prompts write the same program: one candidate, still run against the code's answers at the edge
    same = "    return (items + per_page - 1) // per_page\n"
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=answers(3, [same], [same])))
    assert res.status == "fixed" and res.candidates["plausible"] == 1 and res.confidence["level"] == "medium"
    assert any("page_count(0, 10), an edge no test passes" in r for r in res.confidence["reasons"]), res.confidence
    gen = answers(3, ["    return max(1, (items + per_page - 1) // per_page)\n"],
                  ["    return max(1, (per_page - 1 + items) // per_page)\n"])
    res = fix(str(path), cfg(formats=["infill"]), models=Models(generator=gen))
    assert res.status == "fixed" and res.confidence["level"] == "high", res.confidence
    assert not any("an edge no test passes" in r for r in res.confidence["reasons"])


def test_the_model_loads_while_the_tests_run_and_its_progress_reaches_the_caller(tmp_path, monkeypatch):
    """`fix` starts loading the model beside the baseline's test run (a repair that finds a failing test nearly
    always asks the model something); what the loader reports reaches the caller on the caller's thread,
    before ModelLoaded."""
    import threading

    from debugger import events as ev
    from debugger import pipeline
    path = project(tmp_path, AREA, AREA_TESTS)
    fixed = tmp_path / "fixed.py"
    fixed.write_text(AREA.replace("w + h", "w * h"))
    events, began, tests_started = [], [], threading.Event()
    real = pipeline.make_generator

    def loading(settings, on_event):
        tests_started.wait(30)
        began.append(any(isinstance(e, ev.Baseline) for _, e in events))  # the tests had finished already?
        on_event(ev.ModelProgress("assemble", 1, 2))
        return real(settings, on_event)

    def on(e):
        events.append((threading.current_thread(), e))
        if isinstance(e, ev.BaselineStarted):
            tests_started.set()
    monkeypatch.setattr(pipeline, "make_generator", loading)
    res = fix(str(path), cfg(model=f"fake:{fixed}", formats=["infill"]), on_event=on)
    assert res.status == "fixed" and began == [False]
    kinds = [type(e).__name__ for _, e in events]
    assert kinds.index("Baseline") < kinds.index("ModelProgress") < kinds.index("ModelLoaded")
    assert all(t is threading.main_thread() for t, _ in events)


def test_programs_the_check_could_not_run_are_not_said_to_behave_otherwise():
    """Behaving otherwise is what the differential check found: other passing programs it could not run (a
    method's edit) are said to be that, not to behave differently; either way, without a clear majority the
    fix is low (nothing tells them apart)."""
    def verdict(line: str, origin: str) -> Verdict:
        return Verdict(Candidate(Edit(2, 2, line), f"def f(x):\n{line}", "infill", origin, 3, changed=2), True)
    a, b = verdict("    return x + 1\n", "infill greedy @2-2"), verdict("    return 1 + x + 0\n", "rewrite greedy f")
    from debugger.generate import ast_key
    votes = {ast_key(a.candidate.text): {"p1", "p2"}, ast_key(b.candidate.text): {"p3"}}
    ids = {id(a): "a", id(b): "b"}
    unrun = choose([a, b], votes, Comparison(classes=[["a"], ["b"]], skipped="the candidates change no module-level "
                                             "function"), ids)  # differ.compare: a class each, no inputs
    assert unrun.winner is a and unrun.alternatives == [b] and unrun.confidence["level"] == "low"
    assert any("could not run" in r for r in unrun.confidence["reasons"])
    assert not any("behave differently" in r for r in unrun.confidence["reasons"])
    seen = choose([a, b], votes, Comparison(functions=["f"], inputs=5, classes=[["a"], ["b"]]), ids)
    assert seen.confidence["level"] == "low" and any("behave differently" in r for r in seen.confidence["reasons"])
    assert not any("could not run" in r for r in seen.confidence["reasons"])


def test_a_fix_that_drops_a_raise_needs_three_sources(tmp_path):
    """A candidate that passes by taking code out of the flow (here: the `raise` the failing test ran into) is
    the trap on a real project's one failing test as often as the fix: with two prompts behind it, it is shown,
    not offered, and it opens no selection window (the search goes on as though nothing had passed)."""
    code = ("def charge(amount: float) -> float:\n    if amount <= 0:\n        raise ValueError(amount)\n"
            "    return amount\n")
    tests = ("import pytest\nfrom shop import charge\n\n\ndef test_zero():\n    assert charge(0) == 0\n\n\n"
             "def test_negative():\n    with pytest.raises(ValueError):\n        charge(-1)\n")
    path = project(tmp_path, code, tests)
    one = f"{sys.executable} -m pytest -q tests/test_shop.py::test_zero"
    gen = Scripted(3, ["        pass\n"], hinted=["        pass\n"])
    res = fix(str(path), cfg(test=one, formats=["infill"]), models=Models(generator=gen))
    assert res.status == "not_fixed" and "reads like a trap (it drops a `raise`)" in res.error, res.error
    assert "only 2 source(s)" in res.error and res.unclaimed and path.read_text() == code
    assert "first_plausible" not in res.selection  # no window: every prompt of the round was asked
