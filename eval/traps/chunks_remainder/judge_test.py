from batching.chunking import chunks


def test_hidden_any_remainder():
    assert chunks([1, 2, 3, 4, 5], 4) == [[1, 2, 3, 4], [5]]
    assert chunks([1, 2, 3, 4, 5, 6, 7], 3) == [[1, 2, 3], [4, 5, 6], [7]]
