from releases.versions import newer


def test_patch():
    assert newer("1.2.1", "1.2.0") and not newer("1.2.0", "1.2.1")


def test_numeric_parts():
    assert newer("1.10", "1.9")
