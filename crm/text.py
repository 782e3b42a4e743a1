"""Matching text: the one normalisation used for company names and the project search,
and LIKE patterns that treat % and _ in user input literally."""
import unicodedata


def normalize(text: str | None) -> str:
    """Matching form of a name or text: NFKC (full-width → ASCII), case-folded, no
    spaces, so ``ＳＫ　On`` and ``sk on`` match."""
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) for 'contains ``text``'."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
