def backoff_delays(retries: int, base: float = 0.5, cap: float = 8.0) -> list[float]:
    """The wait before each of `retries` retries: base, 2*base, 4*base, ..., each at most `cap`."""
    return [min(base * 2 ** i, cap) for i in range(1, retries + 1)]
