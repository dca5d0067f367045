from search.bisect import contains, find


def test_hidden_search():
    items = list(range(0, 100, 3))
    for i, v in enumerate(items):
        assert find(items, v) == i
    assert not contains(items, 100)
    assert find([], 1) == -1
