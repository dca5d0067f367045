from shop.shipping import shipping_cost


def test_large_order_ships_free():
    assert shipping_cost(80) == 0.0


def test_exactly_fifty_ships_free():
    assert shipping_cost(50) == 0.0


def test_small_order_pays():
    assert shipping_cost(10) == 4.99
