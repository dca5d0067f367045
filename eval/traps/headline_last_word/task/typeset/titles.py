SMALL = {"a", "an", "and", "of", "the", "in", "on", "to"}


def headline(title: str) -> str:
    """Capitalize every word except the small words in SMALL, which stay lower-case unless they are the
    first or the last word."""
    words = title.lower().split()
    out = []
    for i, w in enumerate(words):
        if w in SMALL and i != 0:
            out.append(w)
        else:
            out.append(w.capitalize())
    return " ".join(out)
