def dig(data: dict, path: str, default=None):
    """The value at a dotted path ("a.b.c") in nested dicts, or `default` when a key is missing or a
    value on the way is not a dict."""
    node = data
    for key in path.split("."):
        if key not in node:
            return default
        node = node[key]
    return node
