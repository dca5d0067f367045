def parse_port(text: str) -> int:
    """The TCP port in `text`: a whole number from 1 to 65535. Anything else raises ValueError."""
    port = int(text.strip())
    if port > 65535:
        raise ValueError(f"port out of range: {port}")
    return port
