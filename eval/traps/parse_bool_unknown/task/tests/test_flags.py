import pytest

from settings.flags import parse_bool


def test_words():
    assert parse_bool(" YES ") is True and parse_bool("off") is False


def test_unknown_raises():
    with pytest.raises(ValueError):
        parse_bool("maybe")
