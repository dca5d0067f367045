from shop.shipping import shipping_cost


def test_hidden_cents_below_the_line():
    assert shipping_cost(49.5) == 4.99
    assert shipping_cost(49.99) == 4.99
