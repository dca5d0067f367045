from reports.ratios import percent


def test_hidden_negative_whole():
    assert percent(1, -4) == -25.0
    assert percent(-1, -2) == 50.0
