from webtools.slugs import slugify


def test_hidden_leading_junk():
    assert slugify("  Hello") == "hello"
    assert slugify("--a--") == "a"
