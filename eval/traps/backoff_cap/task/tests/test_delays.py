from retrying.delays import backoff_delays


def test_first_three():
    assert backoff_delays(3) == [0.5, 1.0, 2.0]
