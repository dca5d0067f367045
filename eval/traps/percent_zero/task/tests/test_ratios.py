from reports.ratios import percent


def test_quarter():
    assert percent(1, 4) == 25.0


def test_zero_whole():
    assert percent(3, 0) == 0.0
