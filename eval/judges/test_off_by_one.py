from textstats.windows import max_window_sum, moving_average, windows


def test_hidden_windows():
    assert windows([1, 2, 3], 3) == [[1, 2, 3]]
    assert windows([1, 2], 3) == []
    assert moving_average([1, 1, 1, 1], 2) == [1.0, 1.0, 1.0]
    assert max_window_sum([9], 1) == 9
