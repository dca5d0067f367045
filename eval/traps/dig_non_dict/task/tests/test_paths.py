from configtree.paths import dig


def test_found():
    assert dig({"a": {"b": 1}}, "a.b") == 1


def test_missing_key():
    assert dig({"a": {"b": 1}}, "a.c", 0) == 0


def test_not_a_dict_on_the_way():
    assert dig({"a": 5}, "a.b", "x") == "x"
