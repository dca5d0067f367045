from shop.cart import Cart


def test_hidden_cart():
    c = Cart()
    c.add("x", 1.5, 4)
    c.add("y", 10.0, 0)
    assert c.subtotal() == 6.0
    assert Cart().subtotal() == 0
