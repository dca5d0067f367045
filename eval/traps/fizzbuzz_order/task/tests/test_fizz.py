from games.fizz import label


def test_labels():
    assert [label(n) for n in (9, 10, 7)] == ["Fizz", "Buzz", "7"]


def test_fifteen():
    assert label(15) == "FizzBuzz"
