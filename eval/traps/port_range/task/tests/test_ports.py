import pytest

from netconf.ports import parse_port


def test_valid():
    assert parse_port("8080") == 8080 and parse_port(" 22 ") == 22


@pytest.mark.parametrize("text", ["70000", "0"])
def test_out_of_range(text):
    with pytest.raises(ValueError):
        parse_port(text)
