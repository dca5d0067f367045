import pytest

from shop.cart import Cart
from shop.pricing import apply_discount, with_tax


def test_subtotal_multiplies_price_by_quantity():
    cart = Cart()
    cart.add("apple", 2.0, 3)
    cart.add("pear", 5.0)
    assert cart.subtotal() == 11.0


def test_total_with_discount_and_tax():
    cart = Cart(discount=50)
    cart.add("book", 10.0, 2)
    assert cart.total() == 12.0


def test_count():
    cart = Cart()
    cart.add("a", 1.0, 2)
    cart.add("b", 1.0, 5)
    assert cart.count() == 7


def test_discount_bounds():
    with pytest.raises(ValueError):
        apply_discount(10, 120)


def test_tax():
    assert with_tax(100) == 120.0
