import pytest

from bank.account import Account
from bank.errors import InsufficientFunds


def test_deposit():
    a = Account("ann")
    a.deposit(10)
    assert a.balance == 10


def test_withdraw():
    a = Account("ann", 10)
    a.withdraw(4)
    assert a.balance == 6


def test_cannot_overdraw():
    a = Account("ann", 5)
    with pytest.raises(InsufficientFunds):
        a.withdraw(6)
    assert a.balance == 5


def test_transfer():
    a, b = Account("ann", 10), Account("bob")
    a.transfer(b, 7)
    assert (a.balance, b.balance) == (3, 7)
