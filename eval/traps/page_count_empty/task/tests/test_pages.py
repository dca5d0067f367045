from listing.pages import page_count


def test_partial_last_page():
    assert page_count(10, 3) == 4


def test_exact_multiple():
    assert page_count(9, 3) == 3
