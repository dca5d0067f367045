from releases.versions import newer


def test_hidden_missing_parts_are_zero():
    assert not newer("1.2.0", "1.2")
    assert not newer("2.0", "2")
