from calendar_utils.years import is_leap


def test_hidden_centuries():
    assert is_leap(1600) and is_leap(2400)
    assert not is_leap(1900) and not is_leap(2100)
