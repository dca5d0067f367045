import pytest

from textstats.windows import max_window_sum, moving_average, windows
from textstats.words import bigrams, tokenize


def test_windows_cover_the_whole_sequence():
    assert windows([1, 2, 3, 4], 2) == [[1, 2], [2, 3], [3, 4]]


def test_moving_average():
    assert moving_average([2, 4, 6], 3) == [4.0]


def test_max_window_sum():
    assert max_window_sum([1, 5, 2, 8], 2) == 10


def test_size_must_be_positive():
    with pytest.raises(ValueError):
        windows([1], 0)


def test_tokenize():
    assert tokenize("It's a Test") == ["it's", "a", "test"]


def test_bigrams():
    assert bigrams("a b c") == [("a", "b"), ("b", "c")]
