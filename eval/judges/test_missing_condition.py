import pytest

from bank.account import Account
from bank.errors import InsufficientFunds


def test_hidden_overdraw_and_exact_balance():
    a = Account("x", 3)
    a.withdraw(3)
    assert a.balance == 0
    with pytest.raises(InsufficientFunds):
        a.withdraw(1)
    assert a.log == [("withdraw", 3)]


def test_hidden_transfer_fails_cleanly():
    a, b = Account("a", 1), Account("b")
    with pytest.raises(InsufficientFunds):
        a.transfer(b, 2)
    assert (a.balance, b.balance) == (1, 0)
