"""Text in cells as OOXML stores it: characters XML would lose or refuse (CR, other
control characters) are stored as ``_xHHHH_``, and text that already looks like such an
escape gets its underscore escaped (``_x005F_``), as Excel does (XlsxWriter writes
it so). Reading undoes it: calamine does when it reads a ledger, and
``from_cell_text`` for text openpyxl read."""
import re

_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def from_cell_text(value: str) -> str:
    """Text as typed, from a cell's stored text."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)
