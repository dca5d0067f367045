"""A sorted index of words with lookups."""
from .bisect import contains, find


class WordIndex:
    def __init__(self, words):
        self.words = sorted(set(words))

    def position(self, word):
        return find(self.words, word)

    def __contains__(self, word):
        return contains(self.words, word)
