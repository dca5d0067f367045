from config.parse import parse


def test_hidden_parse():
    assert parse("a=1\nb = two words \n#c=3") == {"a": "1", "b": "two words"}
