"""Parse simple KEY=VALUE configuration text."""


def parse_line(line):
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    key, sep, value = line.partition("=")
    if not sep:
        raise ValueError(f"missing '=' in {line!r}")
    return key.strip(), value.strip()


def parse(text):
    result = {}
    for line in text.splitlines()
        item = parse_line(line)
        if item is not None:
            result[item[0]] = item[1]
    return result
