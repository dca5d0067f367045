from webtools.slugs import slugify


def test_words():
    assert slugify("Hello World") == "hello-world"


def test_trailing_punctuation():
    assert slugify("Hello, World!") == "hello-world"
