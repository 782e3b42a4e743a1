"""The ledger's columns, in order: the one source of truth for export, the empty
template and import (header text, width, how a value is written)."""
from __future__ import annotations

from dataclasses import dataclass

from crm import lifecycle

# How a column's values are written: text (never a formula), a number, a date of any
# precision (a day is a date cell, a month "2022-03", a year "2022"), the row number.
TEXT, NUMBER, DATE, SERIAL = "text", "number", "date", "serial"

CNY_UNIT, USD_UNIT = "亿元", "万美元"        # 总投资 is in these units
PARTIAL_PRODUCTION = "部分投产"


@dataclass(frozen=True)
class LedgerColumn:
    """One column of the ledger."""

    key: str
    header: str
    kind: str = TEXT
    width: int = 12


LEDGER_COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn("serial", "序号", SERIAL, 6),
    LedgerColumn("code", "项目编号", TEXT, 14),
    LedgerColumn("name", "项目名称", TEXT, 36),
    LedgerColumn("company", "投资方", TEXT, 28),
    LedgerColumn("regions", "来源地", TEXT, 14),
    LedgerColumn("industry", "产业类别", TEXT, 14),
    LedgerColumn("amount", "总投资", NUMBER, 10),
    LedgerColumn("amount_unit", "金额单位", TEXT, 9),
    LedgerColumn("content", "建设内容", TEXT, 40),
    LedgerColumn("stage", "项目阶段", TEXT, 10),
    LedgerColumn("status", "项目状态", TEXT, 10),
    *(LedgerColumn(f, str(lifecycle.MILESTONE_LABELS[s]), DATE, 12)
      for s, f in lifecycle.MILESTONE_FIELDS.items()),
    LedgerColumn("unit", "责任单位", TEXT, 16),
    LedgerColumn("leader", "挂钩领导", TEXT, 10),
    LedgerColumn("officer", "招商责任人", TEXT, 10),
    LedgerColumn("issues", "存在问题", TEXT, 30),
    LedgerColumn("notes", "备注", TEXT, 30),
)
HEADERS = tuple(c.header for c in LEDGER_COLUMNS)
