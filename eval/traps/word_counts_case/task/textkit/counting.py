def word_counts(text: str) -> dict[str, int]:
    """How often each word occurs, case-insensitively (keys are lower-case); punctuation and quotes at
    either end of a word (.,;:!?"'()) are ignored."""
    counts: dict[str, int] = {}
    for raw in text.split():
        word = raw.strip(".,;:!?\"'()")
        if word:
            counts[word] = counts.get(word, 0) + 1
    return counts
