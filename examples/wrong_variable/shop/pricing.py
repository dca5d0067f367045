"""Prices, discounts and taxes."""

TAX_RATE = 0.2


def apply_discount(price, percent):
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return price * (100 - percent) / 100


def with_tax(amount, rate=TAX_RATE):
    return round(amount * (1 + rate), 2)
