from stats_lite.center import median


def test_hidden_other_even_counts():
    assert median([1, 2]) == 1.5
    assert median([5, 1, 3, 2, 4, 6]) == 3.5
