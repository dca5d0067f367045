from games.fizz import label


def test_hidden_other_multiples_of_fifteen():
    assert label(30) == "FizzBuzz" and label(45) == "FizzBuzz"
