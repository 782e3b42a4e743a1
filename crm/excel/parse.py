"""One cell of a hand-typed ledger (台账) as a typed value: text, amount, partial date,
stage and status words, region lists. Pure functions: no Flask, no database; errors are
CellError (a translatable template and its parameters), warnings are returned as Note."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Mapping

from openpyxl.utils.datetime import from_excel

from crm import lifecycle
from crm.excel.columns import CNY_UNIT, PARTIAL_PRODUCTION
from crm.lifecycle import (
    ACTIVE, AT_CAPACITY, DAY, DROPPED, LEAD, N_, ON_HOLD, PRODUCING, SIGNED, STARTED,
    PartialDate,
)
from crm.models import CNY, USD, WAN_PER_YI


class CellError(ValueError):
    """A cell value that cannot be imported; ``message`` is a translatable template."""

    def __init__(self, message: str, params: Mapping[str, str] | None = None):
        self.message = message
        self.params = {k: str(v) for k, v in (params or {}).items()}
        super().__init__(message % self.params)


@dataclass(frozen=True)
class Note:
    """A warning about a cell that was imported anyway (or left out on purpose)."""

    message: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message % dict(self.params)


# --- text ---------------------------------------------------------------------------

# Zero-width space and BOM are not whitespace to str.strip() but arrive from pasted text.
_EDGE_SPACE = re.compile(r"^[\s\u200b\ufeff]+|[\s\u200b\ufeff]+$")
_FULL_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# Full-width punctuation is folded only between digits (1，200, 2022．3．11, 10：30):
# elsewhere it is ordinary Chinese punctuation, and the reader cleans every text cell.
_NUMERIC_PUNCT = re.compile(r"(?<=\d)[．－／：，](?=\d)")
_PUNCT_ASCII = {"．": ".", "－": "-", "／": "/", "：": ":", "，": ","}
# What cleaning changes inside text: the full-width digits and the punctuation above
# (，－．／０…９：, one block of code points, U+FF0C–U+FF1A).
_FOLDED = re.compile("[\uff0c-\uff1a]")
_ZERO_WIDTH = "\u200b\ufeff"


def clean(value):
    """A cell value with text trimmed and full-width digits folded; None when empty."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# A cell's text is cleaned by the reader and again by each parser it goes through (a
# 10,000-row ledger: ~500,000 calls): the recent results are remembered.
@lru_cache(maxsize=4096)
def clean_text(value: str) -> str | None:
    """clean() of text (for a caller with many cells to clean, the reader: one call a
    cell)."""
    # Most text needs no cleaning, and most of a ledger's is seen once (names): tell it
    # by a plain test, 5× cheaper than the regular expressions below. str.strip() takes
    # off exactly what \s matches (both are str.isspace()).
    if (type(value) is str and value and value.strip() == value
            and value.strip(_ZERO_WIDTH) == value and not _FOLDED.search(value)):
        return value
    text = _EDGE_SPACE.sub("", value).translate(_FULL_DIGITS)
    text = _NUMERIC_PUNCT.sub(lambda m: _PUNCT_ASCII[m.group(0)], text)
    return text or None


# What people type for "not known yet"; unknown is never zero.
UNKNOWN_WORDS = ("待定", "待确定", "未定", "不详", "不明", "未知", "暂无", "无", "空", "n/a", "na")
# A cell of only dashes, slashes or question marks (/, ／, \, -, —, --, ——, ?) is blank.
_PLACEHOLDER = re.compile(r"^[-/\\／＼－—–―_~～?？.。…]+$")
_SPACES = re.compile(r"\s+")


def is_unknown(value) -> bool:
    """True for a blank cell or a placeholder meaning "unknown" (/, -, 待定, 不详 …)."""
    if isinstance(value, str):
        return _unknown_text(value)
    return clean(value) is None     # None or NaN; any other number or date is known


@lru_cache(maxsize=4096)
def _unknown_text(value: str) -> bool:
    """is_unknown() of text, remembered: asked of most cells, by several parsers."""
    text = clean_text(value)
    if text is None:
        return True
    text = _SPACES.sub("", text)
    return text.casefold() in UNKNOWN_WORDS or bool(_PLACEHOLDER.match(text))


def parse_text(value) -> str:
    """A text cell's value as text: numbers without a spurious ".0", dates as ISO dates."""
    if isinstance(value, str):      # most cells: nothing more than clean()
        return clean_text(value) or ""
    value = clean(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"     # as Excel shows it
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def _float_text(value: float) -> str:
    """The decimal text of a float as Excel shows it (15 significant digits).

    Every number typed with up to 15 digits comes back exactly (12.5 → "12.5", 2023.1 →
    "2023.1"); a computed 0.30000000000000004 reads "0.3", as the cell displays it.
    """
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


NAME_SEPARATORS = "、，,;；/／"
_NAME_SPLIT = re.compile(r"[、，,;；/／\r\n]+")


def split_names(value) -> list[str]:
    """Split a list of names (来源地) on 、，,;；/ and line breaks, without duplicates."""
    return list(_split_names(parse_text(value)))       # a list of the caller's own


# The same few lists of places repeat down a ledger: each is split once (a tuple, which
# no caller can change).
@lru_cache(maxsize=1024)
def _split_names(text: str) -> tuple[str, ...]:
    names: list[str] = []
    for part in _NAME_SPLIT.split(text):
        part = clean(part)
        if part is not None and not is_unknown(part) and part not in names:
            names.append(part)
    return tuple(names)


# --- amounts ------------------------------------------------------------------------

# Units convert to 万 of their currency, the unit amounts are stored in.
UNIT_MAGNITUDES = {"": Decimal("0.0001"), "万": Decimal(1), "亿": WAN_PER_YI}
CURRENCY_WORDS = {
    "元": CNY, "人民币": CNY, "元人民币": CNY, "RMB": CNY, "CNY": CNY, "¥": CNY,
    "美元": USD, "美金": USD, "USD": USD, "US$": USD, "$": USD,
}
# A unit written without one (10, 约 50) is in the ledger format's default unit.
DEFAULT_UNIT = CNY_UNIT
# Largest amount the database column (Numeric(18, 4), in 万) holds.
MAX_WAN = Decimal(10) ** 14

_CURRENCIES_LONGEST_FIRST = sorted(CURRENCY_WORDS, key=len, reverse=True)
_CURRENCY_RE = "|".join(re.escape(w) for w in _CURRENCIES_LONGEST_FIRST)
_UNIT = re.compile(rf"^(?P<pre>{_CURRENCY_RE})?(?P<mag>万|亿)?(?P<cur>{_CURRENCY_RE})?$")


def _unit_key(text: str) -> str:
    """Unit text as matched: NFKC (ＵＳＤ, ＄), upper case, no spaces or brackets."""
    return re.sub(r"[\s()\[\]【】]+", "", unicodedata.normalize("NFKC", text)).upper()


# The parsers of values that repeat down a ledger (units, dates) remember recent
# results: pure functions of the cell's value (typed: 1, 1.0 and True differ here),
# returning immutable values; a refusal (CellError) is not remembered.
_remembered = lru_cache(maxsize=4096, typed=True)


@_remembered
def parse_unit(text: str) -> tuple[str, Decimal]:
    """(currency, factor to 万 of that currency) of a unit such as 亿元, 万美元, 元."""
    raw = parse_text(text)
    m = _UNIT.match(_unit_key(raw))
    if not raw or not m:
        raise CellError(N_("无法识别的金额单位「%(text)s」"), {"text": raw})
    currencies = {CURRENCY_WORDS[w] for w in (m["pre"], m["cur"]) if w}
    if len(currencies) > 1:     # 人民币万美元
        raise CellError(N_("无法识别的金额单位「%(text)s」"), {"text": raw})
    return (currencies.pop() if currencies else CNY), UNIT_MAGNITUDES[m["mag"] or ""]


_HEADER_BRACKET = re.compile(r"^(?P<name>.*?)[(（【\[](?P<unit>[^()（）【】\[\]]*)[)）】\]]$")
_HEADER_SLASH = re.compile(r"^(?P<name>.+?)[/／](?P<unit>[^/／]+)$")
_HEADER_SPACE = re.compile(r"^(?P<name>.+?)\s+(?P<unit>\S+)$")


def _header_unit_text(text: str) -> str | None:
    """The unit a header's bracket or suffix names, or None when it names none."""
    text = re.sub(r"^单位[:：]?", "", text.strip("()（）【】[]"))
    # A bare currency (人民币, 美元) in a header says which currency, not which unit: it
    # is a sub-header under 总投资（亿元）, and must not turn 亿元 into 元.
    if _unit_key(text) in CURRENCY_WORDS and _unit_key(text) != "元":
        return None
    try:
        parse_unit(text)
    except CellError:
        return None
    return text


def header_unit(header: str) -> tuple[str, str | None]:
    """Split a header such as 总投资（亿元） into its bare name and its unit text."""
    text = parse_text(header)
    compact = re.sub(r"\s+", "", text)
    unit = _header_unit_text(compact)
    if unit is not None:                    # the header is only a unit: 亿元, 单位：万元
        return "", unit
    for pattern, subject in ((_HEADER_BRACKET, compact), (_HEADER_SLASH, compact),
                             (_HEADER_SPACE, text)):
        m = pattern.match(subject)
        if m:
            unit = _header_unit_text(re.sub(r"\s+", "", m["unit"]))
            if unit is not None:
                return re.sub(r"\s+", "", m["name"]), unit
    return compact, None


@dataclass(frozen=True)
class Amount:
    """An amount in 万 of its currency, as typed (``raw``) and whether it is approximate."""

    wan: Decimal
    currency: str
    approximate: bool
    raw: str


# Words around a number meaning the amount is not exact: 约 50, 50 左右, 10 亿以上 …
APPROXIMATE_PREFIXES = ("约合", "大约", "大概", "约", "将近", "近", "预计", "超过", "超", "逾",
                        "多于", "大于", "不少于", "不低于", "不超过", "不足", "不到", "小于",
                        "少于", "低于", ">=", "<=", "≥", "≤", "≈", ">", "<", "~")
APPROXIMATE_SUFFIXES = ("以上", "左右", "上下", "以下", "以内", "多", "余", "许")
_AMOUNT = re.compile(r"^(?P<pre>[^\d.+\-]*?)(?P<sign>[+\-])?"
                     r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)"
                     r"(?P<unit>\D*)$")
_PRECISION = Decimal("0.0001")      # 1 元 in 万


def _strip_words(text: str, words: tuple[str, ...], at_end: bool) -> tuple[str, bool]:
    """Remove the listed words from one end of ``text``; True when any was removed."""
    found = False
    while True:
        word = next((w for w in words if (text.endswith(w) if at_end else text.startswith(w))),
                    None)
        if word is None:
            return text, found
        text, found = (text[:-len(word)] if at_end else text[len(word):]), True


def _split_amount_text(text: str) -> tuple[Decimal, str, bool]:
    """(number, unit written in the cell, approximate) of typed amount text."""
    m = _AMOUNT.match(re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)))
    if not m:
        raise CellError(N_("无法识别的金额「%(text)s」"), {"text": text})
    # A currency may come first (人民币 50 亿元, USD 300 万), with 约 before or after it.
    pre, before = _strip_words(_unit_key(m["pre"]), APPROXIMATE_PREFIXES, at_end=False)
    currency = next((w for w in _CURRENCIES_LONGEST_FIRST if pre.startswith(w)), "")
    pre, after = _strip_words(pre[len(currency):], APPROXIMATE_PREFIXES, at_end=False)
    if pre:
        raise CellError(N_("无法识别的金额「%(text)s」"), {"text": text})
    unit, post = _strip_words(m["unit"], APPROXIMATE_SUFFIXES, at_end=True)
    unit, mid = _strip_words(unit, APPROXIMATE_SUFFIXES, at_end=False)   # 50多亿元
    number = Decimal(m["num"].replace(",", ""))
    if m["sign"] == "-" and number:
        raise CellError(N_("金额不能为负数"))
    return number, currency + unit, before or after or post or mid


def parse_amount(value, unit: str | None = None) -> Amount | None:
    """An amount cell in 万 of its currency; None when unknown (blank, /, 待定).

    A unit written in the cell wins over ``unit`` (the header's or the 金额单位 column's);
    with neither, the amount is in 亿元, the ledger format's default unit.
    """
    # Amounts repeat down a ledger (10, 约 50, 待定), and units always do: each is parsed
    # once. Only text and plain numbers are remembered: equal Decimals can differ in
    # their text (1.0, 1), which the Amount keeps as typed.
    if type(value) in (str, int, float) and (unit is None or type(unit) is str):
        return _remembered_amount(value, unit)
    return _parse_amount(value, unit)


def _parse_amount(value, unit: str | None) -> Amount | None:
    """parse_amount(), not remembered."""
    if isinstance(value, bool) or isinstance(value, (date, time)):
        raise CellError(N_("无法识别的金额「%(text)s」"), {"text": parse_text(value)})
    if is_unknown(value):
        return None
    raw = parse_text(value)
    cell_unit, approximate = "", False
    if isinstance(value, str):
        number, cell_unit, approximate = _split_amount_text(raw)
    elif isinstance(value, (int, float, Decimal)):
        # Through decimal text, never float arithmetic: 12.5 亿 is exactly 125000 万.
        number = Decimal(_float_text(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise CellError(N_("无法识别的金额「%(text)s」"), {"text": raw})
        if number < 0:
            raise CellError(N_("金额不能为负数"))
    else:
        raise CellError(N_("无法识别的金额「%(text)s」"), {"text": raw})
    unit = cell_unit or (None if is_unknown(unit) else parse_text(unit)) or DEFAULT_UNIT
    currency, factor = parse_unit(unit)
    wan = abs(number * factor)      # abs: "-0" is zero, not negative zero
    if wan >= MAX_WAN:
        raise CellError(N_("金额「%(text)s」过大"), {"text": raw})
    if wan != wan.quantize(_PRECISION):
        raise CellError(N_("金额最多精确到元"))
    return Amount(wan.quantize(_PRECISION), currency, approximate, raw)


_remembered_amount = _remembered(_parse_amount)


# --- dates --------------------------------------------------------------------------

@dataclass(frozen=True)
class ParsedDate:
    """A date cell: its partial date (None when unknown), a warning, and text to keep
    in the project's remarks (``note``) when the date says more than its precision."""

    value: PartialDate | None
    warning: Note | None = None
    note: str = ""


# Excel's 1900 date system: serials from 1927-05-18 to 9999-12-31 are taken as dates;
# smaller numbers are years (2022) or mistakes.
SERIAL_MIN, SERIAL_MAX = 10000, 2958465
_TIME_SUFFIX = re.compile(r"(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_EIGHT_DIGITS = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# 2022年底, 2022年上半年, 2022年3月中旬: the year (or month) is imported, the words kept.
_QUALIFIED = re.compile(r"^(\d{4})年(?:(\d{1,2})月份?)?"
                        r"(?:初|中|底|末|内|上旬|中旬|下旬|上半年|下半年|第?[一二三四1-4]季度)前?$")
_YEARLESS = re.compile(r"^(\d{1,2})(?:月(?:份|(\d{1,2})[日号]?|上旬|中旬|下旬|初|中|底|末)?"
                       r"|[-/](\d{1,2}))$")
_NUMERIC_DATE = re.compile(r"^\d{4}(?:\d{4}|\.\d{1,2})?$")


def _date_error_impossible(text: str) -> CellError:
    return CellError(N_("日期 %(text)s 不存在"), {"text": text})


def _date_error_unknown(text: str) -> CellError:
    return CellError(N_("无法识别的日期「%(text)s」"), {"text": text})


def _parse_date_text(raw: str) -> ParsedDate:
    """A typed date: the forms lifecycle.parse_partial_date knows, and a few more."""
    text = re.sub(r"\s+", "", _TIME_SUFFIX.sub("", raw))
    text = re.sub(r"(?<=\d)号$", "日", text)             # 2022年8月2号
    note = ""
    if m := _EIGHT_DIGITS.match(text):                    # 20220311
        text = "-".join(m.groups())
    elif m := _QUALIFIED.match(text):
        text, note = f"{m[1]}年{m[2]}月" if m[2] else f"{m[1]}年", raw
    elif m := _YEARLESS.match(text):
        month, day = int(m[1]), int(m[2] or m[3] or 1)
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise _date_error_impossible(raw)
        # Which year is meant is a guess we do not make: keep the words, import no date.
        return ParsedDate(None, Note(N_("日期「%(text)s」缺少年份，未导入，原文记入备注"),
                                     {"text": raw}), raw)
    try:
        return ParsedDate(lifecycle.parse_partial_date(text), None, note)
    except ValueError as exc:
        # parse_partial_date raises ValueError(text) when no form matches; any other
        # ValueError is date() refusing a month or day that does not exist.
        if exc.args == (text,):
            raise _date_error_unknown(raw) from None
        raise _date_error_impossible(raw) from None


@_remembered
def parse_date(value) -> ParsedDate:
    """A date cell at its precision (day, month or year); value None when unknown."""
    if isinstance(value, bool) or isinstance(value, time):
        raise _date_error_unknown(parse_text(value))
    if is_unknown(value):
        return ParsedDate(None)
    if isinstance(value, datetime):
        return ParsedDate(PartialDate(value.date(), DAY))
    if isinstance(value, date):
        return ParsedDate(PartialDate(value, DAY))
    if isinstance(value, str):
        return _parse_date_text(clean(value))
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _date_error_unknown(parse_text(value))
    if SERIAL_MIN <= value < SERIAL_MAX + 1:
        return ParsedDate(PartialDate(from_excel(value).date(), DAY))
    # A number typed as 2022, 20220311 or 2023.6 reads as the same text would.
    text = parse_text(value)
    if not _NUMERIC_DATE.match(text):
        raise _date_error_unknown(text)
    parsed = _parse_date_text(text)
    if text.endswith(".1") and parsed.value is not None:
        # Excel keeps 2023.10 typed as a number as 2023.1: say which month was taken.
        year = text[:4]
        return ParsedDate(parsed.value, Note(
            N_("数字 %(text)s 按 %(date)s 导入；Excel 会把数字 %(year)s.10 存成 %(text)s，"
               "如原意是 10 月，请填写 %(year)s-10"),
            {"text": text, "date": str(parsed.value), "year": year}))
    return parsed


# --- stage and status ---------------------------------------------------------------

# Words real ledgers use in their stage column; the stage's own label is always accepted.
STAGE_SYNONYMS: dict[str, tuple[str, ...]] = {
    LEAD: ("在谈", "洽谈", "洽谈中", "在洽谈", "跟踪洽谈", "跟踪", "意向", "推介", "储备",
           "谈判中"),
    SIGNED: ("签约", "已签约", "已签约未开工", "前期工作", "前期", "签约待建", "已注册"),
    STARTED: ("开工", "已开工", "在建", "建设中", "开工建设", "已开工未投产", "续建", "新开工"),
    PRODUCING: ("投产", "已投产", "竣工投产", "建成投产", "已投产未达产"),
    AT_CAPACITY: ("达产", "已达产", "全面达产", "满产"),
}
# Production started but not at full capacity: stage producing, flagged partial.
PARTIAL_SYNONYMS = (PARTIAL_PRODUCTION, "试生产", "部分达产")
STATUS_SYNONYMS: dict[str, tuple[str, ...]] = {
    ACTIVE: ("正常推进", "正常", "推进中", "在推进", "推进"),
    ON_HOLD: ("暂缓", "已暂缓", "暂停", "已暂停", "搁置", "已搁置", "停滞"),
    DROPPED: ("终止", "已终止", "解约", "取消", "放弃", "退出", "已退出"),
}
# Our own English UI: stage and status keys (at_capacity) and labels (At capacity) are
# the same word once spaces and underscores are dropped.
ENGLISH_PARTIAL_WORDS = ("partial production", "partial")


_WORD_GAPS = re.compile(r"[\s_]+")


def _word_key(value) -> str:
    """A stage or status word as looked up: no spaces or underscores, case-folded."""
    return _text_word_key(parse_text(value))


@lru_cache(maxsize=1024)        # a ledger uses a handful of stage and status words
def _text_word_key(text: str) -> str:
    return _WORD_GAPS.sub("", unicodedata.normalize("NFKC", text)).casefold()


@dataclass(frozen=True)
class Progress:
    """What a stage cell says: a stage (partial production flagged) or a status."""

    stage: str | None
    partial: bool = False
    status: str | None = None


def _table(*groups: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Lookup key of every word → its stage or status."""
    return {_word_key(w): key for g in groups for key, words in g.items() for w in words}


def _own_words(labels: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Each key's own label (the exported word) and the key itself (English)."""
    return {key: (str(label), key) for key, label in labels.items()}


_STATUS = _table(STATUS_SYNONYMS, _own_words(lifecycle.STATUS_LABELS))
_PROGRESS: dict[str, Progress] = {
    # Real ledgers put 暂缓 or 终止 in the stage column; a status there says nothing of
    # the stage.
    **{w: Progress(None, False, s) for w, s in _STATUS.items() if s != ACTIVE},
    **{w: Progress(s) for w, s in _table(STAGE_SYNONYMS,
                                         _own_words(lifecycle.STAGE_LABELS)).items()},
    **{_word_key(w): Progress(PRODUCING, True)
       for w in (*PARTIAL_SYNONYMS, *ENGLISH_PARTIAL_WORDS)},
}


def parse_progress(value) -> Progress | None:
    """The stage column's word as a stage (or a status); None when blank or unknown."""
    if is_unknown(value):
        return None
    key = _word_key(value)
    progress = _PROGRESS.get(key) or _PROGRESS.get(key.removesuffix("阶段"))
    if progress is None:
        raise CellError(N_("无法识别的项目阶段「%(text)s」"
                           "（可填：在谈、签约、开工、投产、部分投产、达产）"),
                        {"text": parse_text(value)})
    return progress


def parse_status(value) -> str | None:
    """The 项目状态 column's word as a status; None when not given."""
    if is_unknown(value):
        return None
    status = _STATUS.get(_word_key(value))
    if status is None:
        raise CellError(N_("无法识别的项目状态「%(text)s」（可填：正常推进、暂缓、终止）"),
                        {"text": parse_text(value)})
    return status
