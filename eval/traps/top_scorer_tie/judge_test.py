from league.tables import top_scorer


def test_hidden_ties_in_any_order():
    assert top_scorer({"amy": 2, "bob": 2}) == "amy"
    assert top_scorer({"cat": 4, "bob": 4, "amy": 1}) == "bob"
