from debugger import spans

CODE = '''"""Module docstring."""
import os


def outer(x):
    """Doc."""
    if x > 0 and (
            x < 10):
        return x
    for i in range(x):
        x += i
    return -x


class K:
    def method(self):
        with open(os.devnull) as f:
            pass
'''


def test_statements_and_headers():
    got = {(s.start_line, s.end_line, s.kind, s.name) for s in spans.statements(CODE)}
    assert (7, 8, "header", "outer") in got  # a two-line if header
    assert (9, 9, "statement", "outer") in got
    assert (10, 10, "header", "outer") in got
    assert (17, 17, "header", "K.method") in got
    assert not any(s.start_line in (1, 6) for s in spans.statements(CODE))  # docstrings skipped


def test_functions_and_lookup():
    funcs = spans.functions(CODE)
    assert [(f.name, f.start_line, f.end_line) for f in funcs] == [("outer", 5, 12), ("K.method", 16, 18)]
    assert spans.function_at(funcs, 11).name == "outer"
    assert spans.statement_at(spans.statements(CODE), 8).start_line == 7


def test_error_lines_for_a_missing_colon():
    bad = CODE.replace("for i in range(x):", "for i in range(x)")
    lines = spans.error_lines(bad)
    assert lines[0] == 10
    assert spans.error_lines(CODE) == []
