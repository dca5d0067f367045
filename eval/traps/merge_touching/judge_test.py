from schedules.intervals import merge


def test_hidden_gap_stays():
    assert merge([(1, 2), (3, 4)]) == [(1, 2), (3, 4)]
    assert merge([(5, 6), (1, 5)]) == [(1, 6)]
