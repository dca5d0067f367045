"""Word-level helpers built on the window functions."""
import re

from .windows import windows

WORD = re.compile(r"[A-Za-z']+")


def tokenize(text):
    return [w.lower() for w in WORD.findall(text)]


def bigrams(text):
    return [tuple(w) for w in windows(tokenize(text), 2)]
