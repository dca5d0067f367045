def normalize_username(name: str) -> str:
    """Lower-case, trim, and join the words with single underscores: any run of whitespace between
    words (spaces, tabs) becomes one underscore."""
    return name.strip().lower().replace(" ", "_")
