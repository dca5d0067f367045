from people.naming import initials


def test_two_names():
    assert initials("ada lovelace") == "AL"


def test_hyphenated():
    assert initials("jean-paul sartre") == "JPS"
