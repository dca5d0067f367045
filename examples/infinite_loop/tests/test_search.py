from search.bisect import find
from search.index import WordIndex


def test_find_first():
    assert find([1, 3, 5, 7], 1) == 0


def test_find_last():
    assert find([1, 3, 5, 7], 7) == 3


def test_missing():
    assert find([1, 3, 5], 4) == -1


def test_index():
    idx = WordIndex(["b", "a", "c"])
    assert idx.position("a") == 0
    assert "d" not in idx
