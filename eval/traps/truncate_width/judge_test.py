from display.text import truncate


def test_hidden_width_is_kept():
    assert truncate("abcdefghij", 6) == "abc..."
    assert len(truncate("x" * 50, 20)) == 20
