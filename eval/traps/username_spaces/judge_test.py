from accounts.names import normalize_username


def test_hidden_any_run_of_whitespace():
    assert normalize_username("Ada   Lovelace") == "ada_lovelace"
    assert normalize_username("Ada\tLovelace") == "ada_lovelace"
