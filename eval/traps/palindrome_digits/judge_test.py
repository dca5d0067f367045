from wordplay.palindromes import is_palindrome


def test_hidden_digits_count():
    assert not is_palindrome("1a2")
    assert is_palindrome("No 1 on")
