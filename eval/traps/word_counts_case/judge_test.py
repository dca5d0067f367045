from textkit.counting import word_counts


def test_hidden_quotes_and_parentheses():
    assert word_counts('"Yes," she said. (yes)') == {"yes": 2, "she": 1, "said": 1}
