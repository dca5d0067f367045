def newer(a: str, b: str) -> bool:
    """True when version `a` ("1.10.2") is newer than `b`, comparing the dot-separated parts as numbers;
    a missing part counts as 0 ("1.2" and "1.2.0" are the same version)."""
    return a.split(".") > b.split(".")
