def median(values: list[float]) -> float:
    """The middle value of the sorted values; for an even count, the mean of the two middle values."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid]
