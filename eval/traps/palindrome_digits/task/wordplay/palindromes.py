def is_palindrome(text: str) -> bool:
    """True when `text` reads the same backwards, ignoring case and anything but letters and digits."""
    chars = [c for c in text if c.isalnum()]
    return chars == chars[::-1]
