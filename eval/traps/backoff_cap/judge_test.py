from retrying.delays import backoff_delays


def test_hidden_capped():
    assert backoff_delays(6) == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
