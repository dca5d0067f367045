from textkit.slug import slugify
from textkit.titles import unique_slugs


def test_hidden_slugs():
    assert slugify("  Mixed_CASE title ") == "mixed-case-title"
    assert slugify("ÀÉÎ") == "aei"
    assert unique_slugs(["X", "x", "X"]) == ["x", "x-2", "x-3"]
