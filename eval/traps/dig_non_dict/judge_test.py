from configtree.paths import dig


def test_hidden_other_non_dicts():
    assert dig({"a": None}, "a.b", "x") == "x"
    assert dig({"a": 2.5}, "a.b", "x") == "x"
    assert dig({"a": "bcd"}, "a.b", "x") == "x"
