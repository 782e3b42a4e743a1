"""Write the ledger workbook (openpyxl, write-only: constant memory at 100,000 rows) and
the empty template. No Flask, no database: rows in, .xlsx out."""
from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

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
