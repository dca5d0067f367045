def page_count(items: int, per_page: int) -> int:
    """Pages needed to show `items` items, `per_page` a page; no items still shows one (empty) page."""
    return items // per_page + 1
