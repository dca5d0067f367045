import pytest

from settings.flags import parse_bool


@pytest.mark.parametrize("text", ["2", "-1", "10"])
def test_hidden_other_numbers_raise(text):
    with pytest.raises(ValueError):
        parse_bool(text)
