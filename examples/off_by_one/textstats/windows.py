"""Sliding-window statistics over sequences of numbers."""


def windows(values, size):
    """All contiguous windows of `size` items, in order."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [values[i:i + size] for i in range(len(values) - size)]


def moving_average(values, size):
    return [sum(w) / size for w in windows(values, size)]


def max_window_sum(values, size):
    sums = [sum(w) for w in windows(values, size)]
    return max(sums) if sums else None
