from textkit.slug import slugify
from textkit.titles import article_path, unique_slugs


def test_slugify_lowercases_and_joins_words():
    assert slugify("Hello World") == "hello-world"


def test_accents_are_dropped():
    assert slugify("Crème brûlée") == "creme-brulee"


def test_article_path():
    assert article_path(2024, "Big News") == "/2024/big-news/"


def test_unique_slugs():
    assert unique_slugs(["a b", "A B"]) == ["a-b", "a-b-2"]


def test_empty_title():
    assert slugify("") == ""
