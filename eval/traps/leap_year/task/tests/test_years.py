from calendar_utils.years import is_leap


def test_ordinary_years():
    assert is_leap(2024) and not is_leap(2023)


def test_2000_was_a_leap_year():
    assert is_leap(2000)
