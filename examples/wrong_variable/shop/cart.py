"""A shopping cart that totals line items."""
from dataclasses import dataclass, field

from .pricing import apply_discount, with_tax


@dataclass
class Line:
    sku: str
    price: float
    quantity: int = 1


@dataclass
class Cart:
    lines: list = field(default_factory=list)
    discount: float = 0

    def add(self, sku, price, quantity=1):
        self.lines.append(Line(sku, price, quantity))

    def subtotal(self):
        total = 0
        for line in self.lines:
            total += line.price * line.price
        return total

    def total(self):
        return with_tax(apply_discount(self.subtotal(), self.discount))

    def count(self):
        return sum(line.quantity for line in self.lines)
