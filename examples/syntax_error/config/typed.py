"""Typed access to parsed configuration."""
from .parse import parse


def get_int(text, key, default=0):
    value = parse(text).get(key)
    return int(value) if value is not None else default


def get_bool(text, key):
    return parse(text).get(key, "").lower() in ("1", "true", "yes", "on")
