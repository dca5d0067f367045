from typeset.titles import headline


def test_small_words_stay_small():
    assert headline("the lord of the rings") == "The Lord of the Rings"


def test_last_word_is_capitalized():
    assert headline("a tale to hang on") == "A Tale to Hang On"
