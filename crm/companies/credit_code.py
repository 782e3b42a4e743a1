"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a
31-character alphabet, the last a check character over the first 17."""
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"   # no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(text: str | None) -> str:
    """Upper-case, without spaces, full-width characters made half-width."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


def is_valid_credit_code(code: str) -> bool:
    """True for 18 characters of the alphabet whose last one is the right check."""
    return (len(code) == 18 and all(c in ALPHABET for c in code)
            and check_character(code[:17]) == code[17])
