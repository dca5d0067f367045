from schedules.intervals import merge


def test_overlap():
    assert merge([(1, 3), (2, 5)]) == [(1, 5)]


def test_touching():
    assert merge([(1, 2), (2, 4)]) == [(1, 4)]
