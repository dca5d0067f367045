def chunks(items: list, size: int) -> list[list]:
    """Split `items` into consecutive chunks of `size`; the last chunk holds what is left (it may be
    shorter)."""
    return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]
