"""Write the ledger workbook (openpyxl, write-only: constant memory at 100,000 rows), the
empty template, and the sheet helpers the monthly report shares (typed cells, heading
rows, print settings). No Flask, no database: rows in, .xlsx out."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES as _ERROR_CODES
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.datavalidation import DataValidation

from crm.excel.columns import DATE, HEADERS, LEDGER_COLUMNS, NUMBER, SERIAL, TEXT
from crm.excel.text import TO_ESCAPE, to_cell_text
from crm.lifecycle import DAY, PartialDate

SHEET_TITLE = "项目台账"
AMOUNT_FORMAT = "#,##0.00##"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TITLE_FONT = Font(bold=True, size=14)
ERROR_CODES = frozenset(_ERROR_CODES)     # text openpyxl would write as an error value
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


# Whether ``_text`` may write a text other than as it is (a match) or surely writes it
# unchanged (None): it starts with "=" or "#" (every error word does), or holds a
# character ``to_cell_text`` escapes. One C-level match, for the text columns of
# 100,000 rows.
needs_care = re.compile(rf"[=#]|.*?(?:{TO_ESCAPE})", re.S).match


def _text(ws, value):
    """Text as a string cell, never a formula: openpyxl would write text starting with
    "=" as a live formula and "#N/A" as an error (and Excel, WPS or LibreOffice would
    run "+…", "-…", "@…" typed by hand; a string cell keeps it literal both ways)."""
    text = to_cell_text(value if isinstance(value, str) else str(value))
    if text[0] == "=" or text in ERROR_CODES:
        cell = WriteOnlyCell(ws, None)
        cell.value = text
        cell.data_type = "s"        # after the value: openpyxl guesses "f" for "=…"
        return cell
    return text                     # openpyxl writes any other text as a string


def _date(ws, value):
    """A day as a date cell (openpyxl gives a date the yyyy-mm-dd format itself); a
    month or a year as its text ("2022-03", "2022")."""
    if not isinstance(value, PartialDate):
        return _text(ws, value)
    if value.precision != DAY:
        return str(value)
    return value.value


def _number(ws, value):
    """An amount, with its number format."""
    cell = WriteOnlyCell(ws, value)
    cell.number_format = AMOUNT_FORMAT
    return cell


def _plain(ws, value):
    """A count, as it is."""
    return value


_CONVERT = {TEXT: _text, DATE: _date, NUMBER: _number, SERIAL: _plain}


def cell_value(ws, value, kind: str = TEXT):
    """A value as ``ws.append`` should get it (None for blank): a styled or typed cell
    only where one is needed, the value itself otherwise (text openpyxl writes as a
    string anyway, counts) — a cell object for every value made writing the ledger of
    100,000 projects 1.7× slower."""
    if value is None or value == "":
        return None
    return _CONVERT[kind](ws, value)


def typed_cell(ws, value, kind: str = TEXT) -> Cell:
    """``cell_value`` as a cell, always (to be styled): text as a string, never a
    formula."""
    value = cell_value(ws, value, kind)
    return value if isinstance(value, Cell) else WriteOnlyCell(ws, value)


def header_cells(ws, headers: Iterable[str]) -> list[Cell]:
    """A header row: bold, shaded, centred (wrapped when a column is narrow)."""
    out = []
    for text in headers:
        cell = WriteOnlyCell(ws, text)
        cell.font, cell.fill, cell.alignment = _HEADER_FONT, _HEADER_FILL, _CENTER
        out.append(cell)
    return out


@dataclass(frozen=True)
class Heading:
    """A sheet's title row and its "填报单位 / 截至日期" line."""

    title: str
    unit: str           # 填报单位: the zone's bureau
    as_of: date


def begin_sheet(ws, widths: Sequence[int], heading: Heading | None = None,
                header_row: int | None = None) -> int:
    """Prepare a new write-only sheet before its first row: column widths, panes frozen
    below ``header_row`` (else below the heading), print settings (landscape, fit to
    the page width, ``header_row`` repeated on every page); then the heading's two
    rows, the title merged across the columns. Returns the rows written."""
    # Write-only sheets write their properties, panes and columns with the first row.
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9          # A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    top = 2 if heading else 0
    frozen = header_row or top
    if frozen:
        ws.freeze_panes = f"A{frozen + 1}"
        ws.print_title_rows = f"{frozen}:{frozen}" if header_row else f"1:{frozen}"
    if heading is None:
        return 0
    last = get_column_letter(max(len(widths), 1))
    title = typed_cell(ws, heading.title)
    title.font, title.alignment = _TITLE_FONT, _CENTER
    ws.append([title])
    ws.merged_cells.add(CellRange(f"A1:{last}1"))
    unit = typed_cell(ws, f"填报单位：{heading.unit}")
    day = WriteOnlyCell(ws, f"截至日期：{heading.as_of.year}年{heading.as_of.month}月"
                            f"{heading.as_of.day}日")
    day.alignment = Alignment(horizontal="right")
    ws.append([unit] + [None] * (len(widths) - 2) + [day] if len(widths) > 1 else [unit])
    return top


def append_ledger(ws, rows: Iterable[list], first_row: int = 1) -> int:
    """Append the ledger's header (at ``first_row``, with an autofilter) and ``rows``,
    each a list of values in LEDGER_COLUMNS order (dates as PartialDate), to a
    write-only sheet prepared by ``begin_sheet``. Returns the number of rows written."""
    ws.append(header_cells(ws, HEADERS))
    convert = [_reused_number_cell(ws) if column.kind == NUMBER else _CONVERT[column.kind]
               for column in LEDGER_COLUMNS]
    text = [column.kind == TEXT for column in LEDGER_COLUMNS]
    n = 0
    for row in rows:
        # cell_value inlined, and text _text would leave as it is told without calling
        # it: ~2,000,000 cells at 100,000 projects
        ws.append([None if value is None or value == "" else
                   value if is_text and value.__class__ is str and not needs_care(value) else
                   f(ws, value)
                   for f, is_text, value in zip(convert, text, row)])
        n += 1
    ws.auto_filter.ref = f"A{first_row}:{get_column_letter(len(LEDGER_COLUMNS))}" \
        f"{first_row + n}"
    return n


def _reused_number_cell(ws):
    """``_number`` for one column of a write-only sheet, reusing one formatted cell: a
    row is written before the next is appended, and styling a new cell for each of
    100,000 amounts cost more than the rest of the row."""
    cell = _number(ws, None)

    def convert(_ws, value):
        cell.value = value
        return cell
    return convert


LEDGER_WIDTHS = tuple(c.width for c in LEDGER_COLUMNS)


def write_ledger(rows: Iterable[list], out: BinaryIO) -> int:
    """Write the ledger: the header row (frozen, with an autofilter) and ``rows``, each
    a list of values in LEDGER_COLUMNS order (dates as PartialDate). Returns the number
    of rows written."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_TITLE)
    begin_sheet(ws, LEDGER_WIDTHS, header_row=1)
    n = append_ledger(ws, rows)
    wb.save(out)
    return n


TEMPLATE_ROWS = 2000   # rows of the template that offer the drop-down lists
INSTRUCTIONS_TITLE = "填写说明"
CHOICES_TITLE = "选项"


def write_template(out: BinaryIO, choices: dict[str, list[str]]) -> None:
    """Write the empty ledger: the header row, a drop-down list on each column of
    ``choices`` (column key → allowed words, kept on a hidden 选项 sheet so long lists
    work), and a 填写说明 sheet describing every column."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    for i, column in enumerate(LEDGER_COLUMNS, 1):
        ws.column_dimensions[get_column_letter(i)].width = column.width
        cell = ws.cell(row=1, column=i, value=column.header)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
    ws.freeze_panes = "A2"
    options = wb.create_sheet(CHOICES_TITLE)
    options.sheet_state = "hidden"
    keys = [c.key for c in LEDGER_COLUMNS]
    for j, (key, words) in enumerate(choices.items(), 1):
        letter = get_column_letter(j)
        options.cell(row=1, column=j, value=LEDGER_COLUMNS[keys.index(key)].header)
        for k, word in enumerate(words, 2):
            options.cell(row=k, column=j, value=to_cell_text(word)).data_type = "s"
        target = get_column_letter(keys.index(key) + 1)
        rule = DataValidation(type="list", allow_blank=True,
                              formula1=f"'{CHOICES_TITLE}'!${letter}$2:${letter}${len(words) + 1}")
        rule.add(f"{target}2:{target}{TEMPLATE_ROWS + 1}")
        ws.add_data_validation(rule)
    guide = wb.create_sheet(INSTRUCTIONS_TITLE)
    guide.append(["列名", "填写要求"])
    for column in LEDGER_COLUMNS:
        guide.append([column.header, column.hint])
    guide.column_dimensions["A"].width, guide.column_dimensions["B"].width = 14, 70
    for cell in guide[1]:
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
    wb.save(out)
