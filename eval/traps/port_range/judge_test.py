import pytest

from netconf.ports import parse_port


@pytest.mark.parametrize("text", ["-1", "-8080", "65536"])
def test_hidden_out_of_range(text):
    with pytest.raises(ValueError):
        parse_port(text)
