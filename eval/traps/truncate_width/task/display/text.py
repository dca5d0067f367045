def truncate(text: str, width: int) -> str:
    """`text` cut to at most `width` characters; when cut, it ends with "..." (counted in the width)."""
    if len(text) <= width:
        return text
    return text[:width] + "..."
