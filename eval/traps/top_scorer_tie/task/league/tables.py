def top_scorer(scores: dict[str, int]) -> str:
    """The name with the highest score; a tie goes to the name that comes first alphabetically."""
    return max(scores, key=scores.get)
