from typeset.titles import headline


def test_hidden_any_small_last_word():
    assert headline("the end of the road to") == "The End of the Road To"
    assert headline("what dreams are made of") == "What Dreams Are Made Of"
