from display.text import truncate


def test_short_text_unchanged():
    assert truncate("hello", 10) == "hello"


def test_cut():
    assert truncate("hello world", 8) == "hello..."
