def percent(part: float, whole: float) -> float:
    """`part` as a percentage of `whole` (either may be negative), rounded to one decimal; 0.0 when
    `whole` is 0."""
    return round(part / whole * 100, 1)
