"""Article helpers that rely on slugs."""
from .slug import slugify


def article_path(year, title):
    return f"/{year}/{slugify(title)}/"


def unique_slugs(titles):
    seen, out = {}, []
    for t in titles:
        s = slugify(t)
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.append(s if n == 0 else f"{s}-{n + 1}")
    return out
