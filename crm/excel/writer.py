"""Write the ledger workbook, the empty template, and the sheet helpers the monthly report
shares (typed cells, looks, heading rows, print settings), with XlsxWriter: in its
constant-memory mode each row goes to disk as the next begins, so 100,000 rows take
constant memory, in half the time openpyxl's write-only mode takes. No Flask, no
database: rows in, .xlsx out."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import BinaryIO

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from crm.excel.columns import HEADERS, LEDGER_COLUMNS, NUMBER
from crm.lifecycle import DAY, PartialDate

SHEET_TITLE = "项目台账"
AMOUNT_FORMAT = "#,##0.00##"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"


def look(**props) -> tuple:
    """A cell's look (XlsxWriter format properties), hashable: a workbook makes one
    format of each look it is given."""
    return tuple(sorted(props.items()))


HEADER = look(bold=True, bg_color="#DDEBF7", align="center", valign="vcenter",
              text_wrap=True)
TITLE = look(bold=True, font_size=14, align="center", valign="vcenter", text_wrap=True)
BOLD = look(bold=True)
RIGHT = look(align="right")
AMOUNT = look(num_format=AMOUNT_FORMAT)
DAY_LOOK = look(num_format=DATE_FORMAT)
PERCENT = look(num_format=PERCENT_FORMAT)
PLAIN = look()


@dataclass(frozen=True)
class Styled:
    """A value written with a look: an amount with its number format, a bold label, a
    shaded cell."""

    value: object
    look: tuple


class Book:
    """A workbook being written: XlsxWriter's, and the formats of the looks used.
    User text is only ever written as text (never a formula, a number or a link)."""

    def __init__(self, out: BinaryIO, constant_memory: bool = True):
        """A workbook writing to ``out`` when closed; ``constant_memory`` (each sheet
        written row by row, in order) unless cells are placed in any order."""
        self.wb = xlsxwriter.Workbook(out, {
            "constant_memory": constant_memory, "strings_to_formulas": False,
            "strings_to_numbers": False, "strings_to_urls": False})
        self._formats: dict[tuple, object] = {}

    def format(self, props: tuple):
        """The workbook's format of a ``look``."""
        found = self._formats.get(props)
        if found is None:
            found = self._formats[props] = self.wb.add_format(dict(props))
        return found

    def close(self) -> None:
        """Write the workbook out."""
        self.wb.close()


@dataclass(frozen=True)
class Heading:
    """A sheet's title row and its "填报单位 / 截至日期" line."""

    title: str
    unit: str           # 填报单位: the zone's bureau
    as_of: date


class Sheet:
    """A sheet written row by row, and the number of rows written."""

    def __init__(self, book: Book, name: str, widths: Sequence[int],
                 heading: Heading | None = None, header_row: int | None = None):
        """Add the sheet ``name``: column widths, panes frozen below ``header_row`` (else
        below the heading), print settings (landscape, fit to the page width,
        ``header_row`` repeated on every page); then the heading's two rows, the title
        merged across the columns."""
        self.book, self.ws = book, book.wb.add_worksheet(name)
        self.row = 0
        self._date = book.format(DAY_LOOK)
        ws = self.ws
        for i, width in enumerate(widths):
            ws.set_column(i, i, width)
        ws.set_landscape()
        ws.set_paper(9)                  # A4
        ws.fit_to_pages(1, 0)
        frozen = header_row or (2 if heading else 0)
        if frozen:
            ws.freeze_panes(frozen, 0)
            if header_row:
                ws.repeat_rows(header_row - 1)
            else:
                ws.repeat_rows(0, frozen - 1)
        if heading is None:
            return
        last = max(len(widths), 1) - 1
        if last:
            ws.merge_range(0, 0, 0, last, None, book.format(TITLE))
        self.put(0, 0, heading.title, book.format(TITLE))
        self.row = 1
        day = heading.as_of
        self.add([f"填报单位：{heading.unit}", *[None] * (last - 1),
                  Styled(f"截至日期：{day.year}年{day.month}月{day.day}日", RIGHT)]
                 if last else [f"填报单位：{heading.unit}"])

    def add(self, values: Iterable) -> int:
        """Write a row of values (see ``put``); return its number (1-based, as Excel's)."""
        row = self.row
        for col, value in enumerate(values):
            if value is not None:
                self.put(row, col, value)
        self.row += 1
        return self.row

    def header(self, *texts: str | None) -> int:
        """Write a header row: bold, shaded, centred (wrapped when a column is narrow)."""
        return self.add(Styled(text, HEADER) for text in texts)

    def put(self, row: int, col: int, value, fmt=None) -> None:
        """One value in a cell (0-based): text as text; a number; a date or a day as a
        date cell, a month or a year as its text ("2022-03", "2022"); a ``Styled``
        value with its look; None or "" as nothing (a blank cell with ``fmt``)."""
        cls = value.__class__
        if cls is Styled:
            self.put(row, col, value.value, self.book.format(value.look))
        elif value is None or value == "":
            if fmt is not None:
                self.ws.write_blank(row, col, None, fmt)
        elif cls is str:
            self.text(row, col, value, fmt)
        elif cls is PartialDate:
            if value.precision == DAY:
                self.ws.write_datetime(row, col, value.value, fmt or self._date)
            else:
                self.text(row, col, str(value), fmt)
        elif isinstance(value, date):
            self.ws.write_datetime(row, col, value, fmt or self._date)
        elif isinstance(value, (int, float, Decimal)) and cls is not bool:
            self.ws.write_number(row, col, value, fmt)
        else:
            self.text(row, col, str(value), fmt)

    def text(self, row: int, col: int, text: str, fmt=None) -> None:
        """Text as a string cell, as typed: never a formula, whatever it starts with
        (Excel, WPS and LibreOffice keep a string cell literal); XlsxWriter escapes
        control characters and text that looks like its escapes."""
        if text.startswith("<r>") and text.endswith("</r>"):
            # XlsxWriter would put such text into the sheet's XML as it is (it takes it
            # for rich text it made): as two runs it is escaped like any other text.
            self.ws.write_rich_string(row, col, text[:1], self.book.format(PLAIN), text[1:],
                                      *([fmt] if fmt is not None else []))
        else:
            self.ws.write_string(row, col, text, fmt)


def append_ledger(sheet: Sheet, rows: Iterable[list]) -> int:
    """Write the ledger's header (with an autofilter) and ``rows``, each a list of
    values in LEDGER_COLUMNS order (dates as PartialDate), to ``sheet``. Returns the
    number of rows written."""
    first = sheet.header(*HEADERS)
    amount = sheet.book.format(AMOUNT)
    formats = [amount if column.kind == NUMBER else None for column in LEDGER_COLUMNS]
    put, row = sheet.put, sheet.row
    for values in rows:
        for col, (fmt, value) in enumerate(zip(formats, values)):
            if value is not None:
                put(row, col, value, fmt)
        row += 1
    sheet.row = row
    sheet.ws.autofilter(first - 1, 0, row - 1, len(LEDGER_COLUMNS) - 1)
    return row - first


LEDGER_WIDTHS = tuple(c.width for c in LEDGER_COLUMNS)


def write_ledger(rows: Iterable[list], out: BinaryIO) -> int:
    """Write the ledger: the header row (frozen, with an autofilter) and ``rows``, each
    a list of values in LEDGER_COLUMNS order (dates as PartialDate). Returns the number
    of rows written."""
    book = Book(out)
    n = append_ledger(Sheet(book, SHEET_TITLE, LEDGER_WIDTHS, header_row=1), rows)
    book.close()
    return n


TEMPLATE_ROWS = 2000   # rows of the template that offer the drop-down lists
INSTRUCTIONS_TITLE = "填写说明"
CHOICES_TITLE = "选项"


def write_template(out: BinaryIO, choices: dict[str, list[str]]) -> None:
    """Write the empty ledger: the header row, a drop-down list on each column of
    ``choices`` (column key → allowed words, kept on a hidden 选项 sheet so long lists
    work), and a 填写说明 sheet describing every column."""
    book = Book(out, constant_memory=False)     # the lists are written column by column
    ledger = Sheet(book, SHEET_TITLE, LEDGER_WIDTHS, header_row=1)
    ledger.header(*HEADERS)
    options = Sheet(book, CHOICES_TITLE, ())
    options.ws.hide()
    keys = [c.key for c in LEDGER_COLUMNS]
    for j, (key, words) in enumerate(choices.items()):
        letter = xl_col_to_name(j)
        options.put(0, j, LEDGER_COLUMNS[keys.index(key)].header)
        for k, word in enumerate(words, 1):
            options.put(k, j, word)
        target = keys.index(key)
        ledger.ws.data_validation(1, target, TEMPLATE_ROWS, target, {
            "validate": "list",
            "source": f"='{CHOICES_TITLE}'!${letter}$2:${letter}${len(words) + 1}"})
    guide = Sheet(book, INSTRUCTIONS_TITLE, (14, 70))
    guide.header("列名", "填写要求")
    for column in LEDGER_COLUMNS:
        guide.add([column.header, column.hint])
    book.close()
