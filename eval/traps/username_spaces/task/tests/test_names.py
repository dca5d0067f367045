from accounts.names import normalize_username


def test_trimmed_and_lowered():
    assert normalize_username("  Ada Lovelace ") == "ada_lovelace"


def test_double_space():
    assert normalize_username("Ada  Lovelace") == "ada_lovelace"
