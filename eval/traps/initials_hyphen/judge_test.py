from people.naming import initials


def test_hidden_extra_spaces():
    assert initials("  mary-kate  olsen ") == "MKO"
