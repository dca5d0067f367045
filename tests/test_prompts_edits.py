import pytest

from debugger import edits, prompts

CODE = "import math\n\n\nclass C:\n    def area(self, r):\n        x = r * r\n        return math.pi * x\n"


def test_infill_prompt_cuts_the_span():
    p = prompts.infill(CODE, 6, 6)
    assert p.text == "<|fim_prefix|>" + "".join(CODE.splitlines(True)[:5]) + "<|fim_suffix|>" + \
        "        return math.pi * x\n" + "<|fim_middle|>"
    assert p.original == "        x = r * r\n" and p.max_lines == 1


def test_infill_hint_carries_the_failure_as_comments():
    p = prompts.infill(CODE, 6, 6, failure="- t::test\n  assert 1 == 2")
    assert p.text.startswith("<|fim_prefix|># Failing test:\n# - t::test\n#   assert 1 == 2\n"
                             "# Buggy lines (the gap must replace them):\n#>         x = r * r\n\nimport math")
    assert prompts.infill(CODE, 6, 6).text.count("x = r * r") == 0  # unhinted: the cut lines stay unseen


@pytest.mark.integration
def test_each_model_family_gets_its_own_fim_tokens_and_a_model_without_any_is_refused(tmp_path, monkeypatch):
    hinted = prompts.infill(CODE, 6, 6, failure="- t::test\n  assert 1 == 2")
    assert prompts.fim_text(hinted, prompts.QWEN) == hinted.text  # the packs', the adapter's, training's
    star = prompts.fim_text(hinted, prompts.FIM_FAMILIES["starcoder"])
    assert star == "<fim_prefix>" + hinted.head + hinted.prefix + "<fim_suffix>" + hinted.suffix + "<fim_middle>"
    assert "<|fim" not in star and hinted.text.replace("<|fim_prefix|>", "<fim_prefix>").replace(
        "<|fim_suffix|>", "<fim_suffix>").replace("<|fim_middle|>", "<fim_middle>") == star
    assert prompts.fim_text(hinted, prompts.FIM_FAMILIES["codellama"]).startswith("<PRE> # Failing test:")
    assert prompts.fim_for_vocab({"<fim_prefix>": 1, "<fim_suffix>": 2, "<fim_middle>": 3, "a": 4}).family == "starcoder"
    assert prompts.fim_for_vocab({"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"}).family == "qwen"
    assert prompts.fim_for_vocab({"<s>", "</s>", "a"}) is None
    assert prompts.fim_for_name("deepseek-coder-1.3b-base.Q4_K_M.gguf").family == "deepseek"
    assert prompts.fim_for_name("Qwen2.5-Coder-7B-Instruct").family == "qwen"
    assert prompts.fim_for_name("llama-3-8b-instruct") is None
    # a model without FIM tokens: a repair that would prompt infills says so (exit 2 from the CLI)
    import pytest

    from debugger import pipeline
    from debugger.config import resolve
    from debugger.engines.fake import FakeGenerator
    from debugger.source import InputError
    from fakes import branchy
    src, _ = branchy(tmp_path)

    def no_fim(cfg, emit):
        g = FakeGenerator(str(src.path))
        g.fim = None
        return g
    monkeypatch.setattr(pipeline, "make_generator", no_fim)
    settings = {"model": f"fake:{src.path}", "rounds": 0}
    with pytest.raises(InputError, match="no fill-in-the-middle tokens.*--formats mutant,rewrite"):
        pipeline.fix(str(src.path), resolve(src.root, settings | {"formats": ["infill", "rewrite"]}), root=str(src.root))
    res = pipeline.fix(str(src.path), resolve(src.root, settings | {"formats": ["rewrite"]}), root=str(src.root))
    assert res.status == "not_fixed" and res.error  # ran to the end: rewrites need no FIM tokens


def test_training_example_is_the_inference_prompt():
    ex = prompts.training_example(CODE, "        x = r ** 2\n", 6, 6)
    assert ex["prompt"] == prompts.infill(CODE, 6, 6).text
    assert ex["completion"] == "        x = r ** 2\n<|endoftext|>"
    ex = prompts.training_example(CODE, "    def area(self, r):\n        return 1\n", 5, 7, kind="rewrite",
                                  path="m.py", failure="boom", name="C.area")
    assert ex["messages"] == prompts.rewrite(CODE, 5, 7, "C.area", "m.py", "boom").messages


def test_parse_infill_fixes_indentation_strips_chatter_and_rejects_noops():
    p = prompts.infill(CODE, 6, 6)
    e = edits.parse("    x = r ** 2  # square it because the area needs\n<|endoftext|>", p, CODE)
    assert e.text == "        x = r ** 2\n"
    assert edits.parse("        x = r * r\n<|endoftext|>", p, CODE) is None  # no change
    assert edits.parse("        x = (r *\n<|endoftext|>", p, CODE) is None  # does not parse
    assert edits.parse("<|endoftext|>", p, CODE) is None


def test_parse_infill_keeps_only_as_many_lines_unless_a_block_opens():
    p = prompts.infill(CODE, 6, 6)
    e = edits.parse("        x = r ** 2\n        return x\n        y = 3\n", p, CODE)
    assert e.text == "        x = r ** 2\n"
    guard = "        if r < 0:\n            raise ValueError(r)\n        x = r * r\n"
    e = edits.parse(guard + "        log(x)\n<|endoftext|>", p, CODE)
    assert e.text == guard  # up to the model's copy of the guarded statement, not the invention after it
    assert edits.infill_done(guard, p) and not edits.infill_done(guard[:-12], p)


def test_parse_rewrite_tolerates_fences_and_chatter():
    p = prompts.rewrite(CODE, 5, 7, "C.area", "m.py", "fail")
    reply = ("Sure, here it is:\n```python\nimport math\n\ndef area(self, r):\n    return math.pi * r ** 2\n```\n"
             "Hope this helps!")
    e = edits.parse(reply, p, CODE)
    assert e.text == "    def area(self, r):\n        return math.pi * r ** 2\n"
    assert (e.start_line, e.end_line) == (5, 7)


def test_parse_rewrite_rejects_wrong_name_and_garbage():
    p = prompts.rewrite(CODE, 5, 7, "C.area", "m.py", "fail")
    assert edits.parse("```python\ndef volume(self, r):\n    return 1\n```", p, CODE) is None
    assert edits.parse("```python\ndef area(self, r):\n    return (\n```", p, CODE) is None
    assert edits.parse("I don't know.", p, CODE) is None


def test_failure_text_is_bounded():
    from debugger.testrun import TestCase, TestReport
    tests = {f"t::{i}": TestCase(f"t::{i}", "failed", "E " + "x" * 5000) for i in range(10)}
    text = prompts.failure_text(TestReport("cmd", 1, False, 1.0, "", tests))
    assert len(text) <= prompts.MAX_FAILURE + 10 and "7 more failing" in text


def test_failure_text_says_each_line_once():
    """pytest's report repeats the assertion's summary as `E` lines: a prompt shows it once (every token is
    prefill), and the lines it keeps are the summary, the failing line and where it is."""
    from debugger.testrun import TestCase, TestReport
    msg = ("assert [[1, 2], [2, 3]] == [[1, 2], [2, 3], [3, 4]]\n  \n  Right contains one more item: [3, 4]\n"
           "  Use -v to get more diff\ndef test_windows():\n>       assert windows([1, 2, 3, 4], 2) == "
           "[[1, 2], [2, 3], [3, 4]]\nE       assert [[1, 2], [2, 3]] == [[1, 2], [2, 3], [3, 4]]\nE         \n"
           "E         Right contains one more item: [3, 4]\nE         Use -v to get more diff\n\n"
           "tests/test_windows.py:8: AssertionError")
    text = prompts.failure_text(TestReport("cmd", 1, False, 1.0, "", {"t::a": TestCase("t::a", "failed", msg)}))
    assert text.splitlines() == ["- t::a", "  assert [[1, 2], [2, 3]] == [[1, 2], [2, 3], [3, 4]]",
                                 "    Right contains one more item: [3, 4]", "  def test_windows():",
                                 "  >       assert windows([1, 2, 3, 4], 2) == [[1, 2], [2, 3], [3, 4]]",
                                 "  tests/test_windows.py:8: AssertionError"]


def test_greedy_infills_hide_the_cut_lines_with_or_without_an_adapter(tmp_path):
    from debugger.config import FixConfig
    from debugger.localization.ranking import Localization, ScoredSpan
    from debugger.pipeline import _prompts
    from debugger.source import load
    from debugger.testrun import TestCase, TestReport
    (tmp_path / "m.py").write_text(CODE)
    src = load(str(tmp_path / "m.py"), str(tmp_path))
    loc = Localization([ScoredSpan(6, 6, "statement", 1.0, "t"), ScoredSpan(7, 7, "statement", 0.5, "t")], [])
    report = TestReport("pytest", 1, False, 0.1, "", {"t::test": TestCase("t::test", "failed", "assert 1 == 2")})
    for adapter in (None, "some/adapter"):  # shown the cut lines, the adapter's greedy copied them back
        stages = _prompts(src, loc, report, FixConfig(formats=["infill"], adapter=adapter))
        plain = [p for _, ps, _, samples in stages for p in ps if not samples]
        hinted = [p for _, ps, _, samples in stages for p in ps if samples]
        assert [p.start_line for p in plain] == [6, 7] and [p.start_line for p in hinted] == [6, 7]
        assert all("# Failing test" not in p.text for p in plain) and "x = r" not in plain[0].text
        assert all("# Failing test" in p.text and "#> " in p.text for p in hinted)
        if adapter:  # the layout it was trained on: the failure above the code, all plain prompts first
            assert [(greedy, samples) for _, _, greedy, samples in stages] == [(True, 0), (True, 3)]
            assert hinted[0].text.startswith("<|fim_prefix|># Failing test")
        else:  # the failure below the code, each hinted prompt right after its span's plain one, which it extends
            assert [(greedy, samples) for _, _, greedy, samples in stages] == [(True, 0), (True, 3)] * 2
            assert [ps[0].start_line for _, ps, _, _ in stages] == [6, 6, 7, 7]
            for p, h in zip(plain, hinted):
                assert h.text.startswith(p.text.removesuffix("<|fim_middle|>")) and h.hinted and not p.hinted
                assert h.text.endswith("\n# Buggy lines (the gap must replace them):\n#> " + p.original + "<|fim_middle|>")


def test_a_round_that_changed_nothing_goes_deeper_instead_of_repeating_its_greedy_passes(tmp_path):
    from debugger.config import FixConfig
    from debugger.localization.ranking import Localization, ScoredSpan
    from debugger.pipeline import _prompts
    from debugger.source import load
    from debugger.testrun import TestCase, TestReport
    text = "".join(f"def f{i}(x):\n    y = x + {i}\n    return y\n\n\n" for i in range(6))
    (tmp_path / "m.py").write_text(text)
    src = load(str(tmp_path / "m.py"), str(tmp_path))
    stmts = [ScoredSpan(5 * i + 2, 5 * i + 2, "statement", 1.0 - i / 10, "t") for i in range(6)]
    funcs = [ScoredSpan(5 * i + 1, 5 * i + 3, "function", 1.0 - i / 10, "t", f"f{i}") for i in range(6)]
    report = TestReport("pytest", 1, False, 0.1, "", {"t::test": TestCase("t::test", "failed", "assert 1 == 2")})
    cfg = FixConfig(top_k=2, functions=1, samples=2, adapter=None)

    def plan(depth):
        return [(kind, [p.start_line for p in ps], greedy, samples)
                for kind, ps, greedy, samples in _prompts(src, Localization(stmts, funcs), report, cfg, depth)]

    assert plan(0) == [("infill", [2], True, 0), ("infill", [2], True, 2), ("infill", [7], True, 0),
                       ("infill", [7], True, 2), ("rewrite", [1], True, 2)]
    # the greedy passes move on to the next statements and function; only samples look at the first again
    assert plan(1) == [("infill", [12, 17], True, 0), ("infill", [2, 7], False, 2), ("rewrite", [6], True, 2),
                       ("rewrite", [1], False, 2)]
    assert plan(2) == [("infill", [22, 27], True, 0), ("infill", [2, 7], False, 2), ("rewrite", [11], True, 2),
                       ("rewrite", [1], False, 2)]


def test_nearby_spans_prompts_begin_alike_so_the_engine_prefills_their_shared_start_once(tmp_path):
    from debugger.config import FixConfig
    from debugger.localization.ranking import Localization, ScoredSpan
    from debugger.pipeline import _prompts
    from debugger.source import load
    from debugger.testrun import TestCase, TestReport
    text = "".join(f"def f{i}(x):\n    y = x + {i}\n    return y\n\n\n" for i in range(60))  # 300 lines
    (tmp_path / "m.py").write_text(text)
    src = load(str(tmp_path / "m.py"), str(tmp_path))
    # ranked out of line order: 112, 102 and 109 are near each other, 252 far away
    loc = Localization([ScoredSpan(ln, ln, "statement", 1.0 - i / 10, "t") for i, ln in enumerate((112, 252, 102, 109))], [])
    report = TestReport("pytest", 1, False, 0.1, "", {"t::test": TestCase("t::test", "failed", "assert 1 == 2")})
    stages = _prompts(src, loc, report, FixConfig(formats=["infill"], context_lines=20))
    lines = text.splitlines(keepends=True)
    greedy, hinted = stages[0][1], stages[1][1]
    heads = [p.prefix.splitlines(keepends=True)[0] for p in greedy]
    assert heads[0] == heads[2] == heads[3] == lines[102 - 20 - 1]  # the highest near span's 20 lines set it
    assert heads[1] == lines[252 - 20 - 1]
    for p, ln in zip(greedy, (112, 252, 102, 109)):  # never fewer than the window, at most half as many more
        shown = p.prefix.count("\n")
        assert 20 <= shown <= 30 and p.prefix.endswith(lines[ln - 2]) and p.suffix.count("\n") == 20
    assert hinted[0].text.split("#> ")[-1].count("\n") > 0 and hinted[0].prefix == greedy[0].prefix
    # without a window (an endpoint) the whole file is shown, as before
    whole = _prompts(src, loc, report, FixConfig(formats=["infill"], context_lines=None))[0][1][0]
    assert whole.prefix == "".join(lines[:111])


def test_a_rewrite_keeps_the_originals_comments_blank_lines_and_docstring_where_it_changed_only_those():
    code = ('def total(items):\n    """Sum the prices.\n\n    Empty lists give 0."""\n    # start from nothing\n'
            '    s = 0\n\n    for it in items:  # each one\n        s += it.price - 1\n    return s\n')
    p = prompts.rewrite(code, 1, 10, "total", "m.py", "fail")
    reply = ('```python\ndef total(items):\n    """Sum the prices of all items."""\n    s = 0\n'
             '    for it in items:  # each item\n        # Fixed: no discount\n        s += it.price  # fixed\n'
             '    return s  # the total\n```')
    e = edits.parse(reply, p, code)
    assert e.text == code.replace("it.price - 1", "it.price")  # the fix's line, nothing else
    added = ('```python\ndef total(items):\n    if not items:  # nothing to add\n        return 0\n'
             '    s = 0\n    for it in items:\n        s += it.price - 1\n    return s\n```')
    e = edits.parse(added, p, code)  # a guard added: its code kept, its comment dropped, the rest as it was
    assert e.text == code.replace("    # start from", "    if not items:\n        return 0\n    # start from")
    prose = code.replace("# each one", "# every item").replace("Sum the prices.", "Add up prices.")
    assert edits.parse(f"```python\n{prose}```", p, code) is None  # prose only: no edit at all


def test_failure_text_leads_with_the_error_the_arguments_and_the_failing_lines(tmp_path):
    """A real pytest report, read as a developer reads it: the error first (a long report's tail, which prompts
    showed before, was its test's last source lines and lost the error), the test's arguments, its lines up to
    the failing one, and the project's line the error came from."""
    from debugger.testrun import default_command, run_tests
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "env.py").write_text(
        "def pick(envs):\n    if envs:\n        return envs[0]\n    return None\n\n\n"
        "def dig(data, key):\n    return data[key]\n")
    (tmp_path / "tests").mkdir()
    literal = "\n".join(f"    # padding line {i}" for i in range(30))
    (tmp_path / "tests" / "test_env.py").write_text(
        "import pytest\nfrom pkg.env import dig, pick\n\n\n@pytest.mark.parametrize('envs', [[]])\n"
        "def test_none_matches(envs):\n    chosen = pick(envs)\n" + literal + "\n"
        "    with pytest.raises(LookupError):\n        pick(envs)\n\n\n"
        "def test_dig():\n    assert dig({'a': 1}, 'b') == 2\n")
    report = run_tests(tmp_path, default_command(), target="pkg/env.py")
    assert report.tests["tests/test_env.py::test_none_matches[envs0]"].summary.startswith("Failed: DID NOT RAISE")
    text = prompts.failure_text(report)
    first, second = text.split("- tests/test_env.py::test_dig")
    assert first.splitlines()[:3] == ["- tests/test_env.py::test_none_matches[envs0]",
                                      "  Failed: DID NOT RAISE LookupError", "  envs = []"]
    assert ">       with pytest.raises(LookupError):" in first and "padding line 27" in first
    assert "padding line 3\n" not in first and first.rstrip().endswith("tests/test_env.py:38: Failed")
    assert second.splitlines()[1:] == ["  KeyError: 'b'", "  def test_dig():", "  >       assert dig({'a': 1}, 'b') == 2",
                                       "  >       return data[key]", "  pkg/env.py:8: KeyError"]
