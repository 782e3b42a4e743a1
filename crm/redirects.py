"""Where a page sends the user back to (``?next=…``): only to a path on this site, so
a crafted link cannot turn sign-in or a form into an open redirect."""
from urllib.parse import urlsplit


def safe_next(target: str | None, default: str) -> str:
    """Return ``target`` when it is a path on this site, else ``default``."""
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would be "//evil…".
    if target and not any(ord(c) < 32 or ord(c) == 127 for c in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return default
