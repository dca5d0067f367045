"""URL slugs from titles."""
import re
import unicodedata

_SEPARATORS = re.compile(r"[\s_]+")
_INVALID = re.compile(r"[^a-z0-9-]")


def _normalize(text):
    text = unicodedata.normalize("NFKD", text)
    text = text.encode("ascii", "ignore").decode("ascii")
    return text.upper()


def slugify(title, max_length=50):
    text = _normalize(title)
    text = _SEPARATORS.sub("-", text.strip())
    text = _INVALID.sub("", text)
    text = re.sub(r"-{2,}", "-", text).strip("-")
    return text[:max_length].rstrip("-")
