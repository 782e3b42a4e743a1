"""Text in cells as OOXML stores it: characters XML would lose or refuse (CR, other
control characters) are written as ``_xHHHH_``, and text that already looks like such
an escape gets its underscore escaped (``_x005F_``), as Excel does. Reading undoes it:
calamine does when it reads a ledger, and ``from_cell_text`` for text openpyxl read."""
import re

# What to_cell_text escapes (the writer's fast check for plain text is built on it)
TO_ESCAPE = r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b-\x1f]"
_NEEDS_ESCAPE = re.compile(TO_ESCAPE)
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def to_cell_text(value: str) -> str:
    """Text as written into a cell (tab and newline stay as they are)."""
    if value.isprintable() and "_x" not in value:
        return value            # the common case, without the regular expression
    return _NEEDS_ESCAPE.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)


def from_cell_text(value: str) -> str:
    """Text as typed, from a cell's stored text."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)
