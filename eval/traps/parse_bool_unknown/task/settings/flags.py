def parse_bool(text: str) -> bool:
    """"yes"/"true"/"on"/"1" -> True, "no"/"false"/"off"/"0" -> False, in any case and with surrounding
    spaces; anything else raises ValueError."""
    value = text.strip().lower()
    if value in ("yes", "true", "on", "1"):
        return True
    if value in ("no", "false", "off", "0"):
        return False
    return False
