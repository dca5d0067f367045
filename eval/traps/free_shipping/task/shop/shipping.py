def shipping_cost(total: float) -> float:
    """Orders of 50.00 or more ship free; below that, shipping is 4.99."""
    if total > 50:
        return 0.0
    return 4.99
