from textkit.counting import word_counts


def test_counts():
    assert word_counts("the cat and the hat.") == {"the": 2, "cat": 1, "and": 1, "hat": 1}


def test_case_insensitive():
    assert word_counts("The end. the END") == {"the": 2, "end": 2}
