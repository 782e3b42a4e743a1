"""Write the ledger workbook (openpyxl, write-only: constant memory at 100,000 rows).
No Flask, no database: rows in, .xlsx out."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from crm.excel.columns import DATE, LEDGER_COLUMNS, NUMBER, SERIAL
from crm.excel.text import to_cell_text
from crm.lifecycle import DAY, PartialDate

SHEET_TITLE = "项目台账"
DATE_FORMAT = "yyyy-mm-dd"
AMOUNT_FORMAT = "#,##0.00##"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _cell(ws, value, kind: str) -> WriteOnlyCell:
    """One cell. Text is always a typed string: openpyxl would otherwise write text
    starting with "=" as a live formula (and Excel, WPS or LibreOffice would run
    "+…", "-…", "@…" typed by hand); a string cell keeps it literal both ways."""
    if kind == DATE and isinstance(value, PartialDate):
        if value.precision == DAY:
            cell = WriteOnlyCell(ws, value.value)
            cell.number_format = DATE_FORMAT
            return cell
        value = str(value)          # "2022-03" or "2022"
    elif kind in (NUMBER, SERIAL) and value is not None:
        cell = WriteOnlyCell(ws, value)
        if kind == NUMBER:
            cell.number_format = AMOUNT_FORMAT
        return cell
    elif isinstance(value, date):
        cell = WriteOnlyCell(ws, value)
        cell.number_format = DATE_FORMAT
        return cell
    cell = WriteOnlyCell(ws, None)
    if value not in (None, ""):
        cell.value = to_cell_text(str(value))
        cell.data_type = "s"        # after the value: openpyxl guesses "f" for "=…"
    return cell


def write_ledger(rows: Iterable[list], out: BinaryIO) -> int:
    """Write the ledger: the header row (frozen, with an autofilter) and ``rows``, each
    a list of values in LEDGER_COLUMNS order (dates as PartialDate). Returns the number
    of rows written."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_TITLE)
    for i, column in enumerate(LEDGER_COLUMNS, 1):
        ws.column_dimensions[get_column_letter(i)].width = column.width
    ws.freeze_panes = "A2"
    header = []
    for column in LEDGER_COLUMNS:
        cell = WriteOnlyCell(ws, column.header)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
        header.append(cell)
    ws.append(header)
    n = 0
    for row in rows:
        ws.append([_cell(ws, value, column.kind) for value, column in zip(row, LEDGER_COLUMNS)])
        n += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(LEDGER_COLUMNS))}{n + 1}"
    wb.save(out)
    return n
