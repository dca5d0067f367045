from league.tables import top_scorer


def test_highest_wins():
    assert top_scorer({"amy": 1, "bob": 5}) == "bob"


def test_tie_goes_to_the_first_name_alphabetically():
    assert top_scorer({"bob": 3, "amy": 3}) == "amy"
