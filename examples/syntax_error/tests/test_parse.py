import pytest

from config.parse import parse, parse_line
from config.typed import get_bool, get_int


def test_parse_line():
    assert parse_line(" a = 1 ") == ("a", "1")


def test_comments_and_blanks():
    assert parse("# hi\n\nx=2\n") == {"x": "2"}


def test_missing_equals():
    with pytest.raises(ValueError):
        parse_line("oops")


def test_typed():
    text = "port=8080\ndebug=yes\n"
    assert get_int(text, "port") == 8080
    assert get_bool(text, "debug") is True
