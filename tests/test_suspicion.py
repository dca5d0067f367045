"""Candidates that pass the tests but read like a trap (repair/suspicion.py): refused when they make code that
never runs, ranked down and never called high when they drop, delete, negate or special-case."""
from __future__ import annotations

import copy
import pickle

import pytest

from debugger.choose import choose
from debugger.differ import Comparison
from debugger.generate import Candidate
from debugger.screen import screen
from debugger.source import Edit
from debugger.suspicion import suspicions, literals_of, unreachable
from debugger.validate import Verdict

LOOP = "def total(xs):\n    n = len(xs)\n    s = 0\n    for j in range(0, n):\n        s += xs[j]\n    return s\n"


@pytest.mark.parametrize("line, why", [
    ("    for j in range(n, 0):\n", "never runs"),
    ("    for j in range(0):\n", "never runs"),
    ("    for j in range(5, 2):\n", "never runs"),
    ("    while False:\n", "constant"),
    ("    if n != n:\n", "constant"),
])
def test_code_made_never_to_run_is_refused_before_it_runs(line, why):
    new = LOOP.replace("    for j in range(0, n):\n", line)
    found = unreachable(LOOP, new, 4, 4, 1)
    assert found and why in found[0]
    verdict = screen(LOOP, new, 4, 4, 1)
    assert not verdict.ok and any(why in r for r in verdict.reasons)


def test_what_the_original_already_did_and_ordinary_ranges_pass():
    assert unreachable(LOOP, LOOP.replace("range(0, n)", "range(1, n)"), 4, 4, 1) == []
    assert unreachable(LOOP, LOOP.replace("range(0, n)", "range(n - 1, -1, -1)"), 4, 4, 1) == []
    spin = LOOP.replace("    for j in range(0, n):\n", "    while True:\n")
    assert unreachable(spin, spin.replace("s = 0", "s = 1"), 3, 3, 1) == []  # not its edit


SETITEM = ("class Table:\n    def set(self, key, value):\n        self.body[key] = value\n"
           "        if hasattr(value, 'display'):\n            value.display()\n        return self\n")


def test_a_block_wrapped_in_a_new_local_function_nothing_calls_is_refused():
    # an `if` header made a `def` header (a real model's edit that passed a real project's one failing test)
    new = SETITEM.replace("        if hasattr(value, 'display'):\n", "        def remove(self, k) -> None:\n")
    found = unreachable(SETITEM, new, 4, 4, 1)
    assert found and "`remove` is never called" in found[0]
    assert not screen(SETITEM, new, 4, 4, 1).ok
    called = new.replace("        return self\n", "        remove(self, key)\n        return self\n")
    assert unreachable(SETITEM, called, 4, 4, 1) == []  # called: it runs
    registered = new.replace("        def remove", "        @hooks.register\n        def remove")
    assert unreachable(SETITEM, registered, 4, 5, 2) == []  # a decorator may run it: not this check's call
    method = SETITEM + "\n    def remove(self, k):\n        pass\n"
    assert unreachable(SETITEM, method, 8, 9, 2) == []  # a method, not a local function


CHARSET = ("def content_type(value, parameters):\n    if not value:\n        raise ValueError(value)\n"
           "    charset = parameters.get('charset', 'UTF-8')\n    if charset != 'UTF-8':\n"
           "        raise ValueError(charset)\n    return value\n")


def test_a_new_exit_with_statements_of_its_block_after_it_is_refused():
    # an infill that passed a real project's failing test: it returns early, and the charset check never runs
    new = CHARSET.replace("    charset = parameters.get('charset', 'UTF-8')\n",
                          "    if value.lower() == 'text/plain':\n        value = value[:-15]\n    return value\n")
    found = unreachable(CHARSET, new, 4, 4, 3)
    assert found and "`return value` comes before statements of its block" in found[0]
    assert not screen(CHARSET, new, 4, 4, 3).ok
    guarded = new.replace("        value = value[:-15]\n    return value\n", "        return value[:-15]\n")
    assert unreachable(CHARSET, guarded, 4, 4, 2) == []  # a return inside its own branch: the rest still runs
    last = CHARSET.replace("    return value\n", "    value = value.strip()\n    return value\n")
    assert unreachable(CHARSET, last, 7, 7, 2) == []  # the block's last statement
    dead = CHARSET.replace("    return value\n", "    return value\n    print(value)\n")
    assert unreachable(dead, dead.replace("print(value)", "print(value, 1)"), 8, 8, 1) == []  # already so


GUARD = ("def charge(amount, currency):\n    \"\"\"Charge `amount` in `currency`.\"\"\"\n    if amount < 0:\n"
         "        raise ValueError(amount)\n    # round to cents\n    return round(amount, 2)\n")


@pytest.mark.parametrize("old_lines, new_lines, start, end, word", [
    ("        raise ValueError(amount)\n", "        pass\n", 4, 4, "drops a `raise`"),
    ("    if amount < 0:\n        raise ValueError(amount)\n", "", 3, 4, "deletes a statement"),
    ("    if amount < 0:\n", "    if not amount < 0:\n", 3, 3, "negates a condition"),
    ("    if amount < 0:\n", "    if not (amount < 0):\n", 3, 3, "negates a condition"),
    ("    if amount < 0:\n", "    if amount < 0 and currency is not None:\n", 3, 3, None),  # a clause added
    ("    if amount < 0:\n", "    if not isinstance(amount, int) or amount < 0:\n", 3, 3, None),  # a guard
    ("    return round(amount, 2)\n", "    return 0 if amount == 1337 else round(amount, 2)\n", 6, 6, "special-cases"),
    ("    # round to cents\n", "    # whatever\n", 5, 5, "edits a comment"),
    ('    """Charge `amount` in `currency`."""\n', '    """Charge it."""\n', 2, 2, "edits a docstring"),
])
def test_edits_that_read_like_traps_are_said(old_lines, new_lines, start, end, word):
    new = GUARD.replace(old_lines, new_lines)
    found = suspicions(GUARD, new, start, end, len(new_lines.splitlines()), literals_of(["assert charge(1337, 'EUR') == 1337.0"]))
    assert any(word in f for f in found) if word else found == [], found
    assert all(f.kind in ("drop", "delete", "negate", "special-case", "docstring", "comment") for f in found)
    assert [(f, f.kind) for f in copy.deepcopy(found)] == [(f, f.kind) for f in pickle.loads(pickle.dumps(found))] \
        == [(f, f.kind) for f in found]
    assert ("drop" in {f.kind for f in found}) == (word or "").startswith(("drops", "deletes"))  # read by unsupported()
    # an honest edit of the same lines is not suspect
    assert suspicions(GUARD, GUARD.replace("round(amount, 2)", "round(amount, 3)"), 6, 6, 1, {1337}) == []


def test_literals_are_the_tests_values_but_the_trivial_ones():
    assert literals_of(["assert f(1337, 'EUR') == 0", 'E  assert "abc" == 2.5']) == {1337, "EUR", "abc", 2.5}


def _verdict(text: str, origin: str, suspect: list[str]) -> Verdict:
    return Verdict(Candidate(Edit(4, 4, ""), text, "infill", origin, 3, changed=2, suspicions=suspect), True)


def test_a_suspect_fix_ranks_below_an_equal_one_and_alone_is_low():
    honest = _verdict(GUARD.replace("round(amount, 2)", "round(amount, 3)"), "infill greedy @6-6", [])
    trap = _verdict(GUARD.replace("        raise ValueError(amount)\n", "        pass\n"), "mutant line 4", ["it drops a `raise`"])
    from debugger.generate import ast_key
    votes = {ast_key(honest.candidate.text): {"p1"}, ast_key(trap.candidate.text): {"probe"}}
    c = choose([trap, honest], votes, Comparison())
    assert c.winner is honest
    alone = choose([trap], votes, Comparison())
    assert alone.confidence["level"] == "low" and any("drops a `raise`" in r for r in alone.confidence["reasons"])


def test_a_bound_the_original_already_compared_with_is_no_special_case():
    grade = "def grade(score):\n    if score > 50:\n        return 'pass'\n    return 'fail'\n"
    fixed = grade.replace("score > 50", "score >= 50")
    assert suspicions(grade, fixed, 2, 2, 1, literals_of(["assert grade(50) == 'pass'"])) == []


def test_a_flipped_comparison_is_a_negation_and_a_new_guard_beside_one_is_not():
    dig = "def dig(node, key):\n    if key not in node:\n        return None\n    return node[key]\n"
    flipped = dig.replace("key not in node", "key in node")
    assert "it negates a condition" in suspicions(dig, flipped, 2, 2, 1)
    assert "it negates a condition" in suspicions(dig, dig.replace("key not in node", "not key not in node"), 2, 2, 1)
    eq = "def same(a, b):\n    return a == b\n"
    assert "it negates a condition" in suspicions(eq, eq.replace("==", "!="), 2, 2, 1)
    # a real fix (a trap task's): the guard is new, the old condition stays as it was
    guarded = dig.replace("if key not in node", "if not isinstance(node, dict) or key not in node")
    assert suspicions(dig, guarded, 2, 2, 1) == []
