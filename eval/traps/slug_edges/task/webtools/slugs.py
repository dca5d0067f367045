import re


def slugify(text: str) -> str:
    """Lower-case ASCII slug: runs of anything but letters and digits become one "-", and the slug
    never starts or ends with "-"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower())
