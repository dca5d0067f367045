from batching.chunking import chunks


def test_even_split():
    assert chunks([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_short_last_chunk():
    assert chunks([1, 2, 3], 2) == [[1, 2], [3]]
