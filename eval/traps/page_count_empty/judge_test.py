from listing.pages import page_count


def test_hidden_empty_list_has_a_page():
    assert page_count(0, 5) == 1
