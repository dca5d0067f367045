class InsufficientFunds(Exception):
    """Raised when a withdrawal would overdraw an account."""
