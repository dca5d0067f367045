def is_leap(year: int) -> bool:
    """Gregorian leap year: divisible by 4, except century years, which must be divisible by 400."""
    return year % 4 == 0 and year % 100 != 0
