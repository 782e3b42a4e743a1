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
    """One column of the ledger, with how to fill it in (the template's 填写说明)."""

    key: str
    header: str
    kind: str = TEXT
    width: int = 12
    hint: str = ""


_DATE_HINT = "日期，如 2022-03-11；只知月份写 2022-03，只知年份写 2022"

LEDGER_COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn("serial", "序号", SERIAL, 6, "可不填"),
    LedgerColumn("code", "项目编号", TEXT, 14, "系统编号；新项目留空，导入时自动编号"),
    LedgerColumn("name", "项目名称", TEXT, 36, "必填，不超过 200 字"),
    LedgerColumn("company", "投资方", TEXT, 28, "企业全称"),
    LedgerColumn("regions", "来源地", TEXT, 14, "多个来源地用“、”分隔，如 上海、苏州"),
    LedgerColumn("industry", "产业类别", TEXT, 14, "从下拉列表选择"),
    LedgerColumn("amount", "总投资", NUMBER, 10, "数字，单位见“金额单位”列；未知留空，不要填 0"),
    LedgerColumn("amount_unit", "金额单位", TEXT, 9, "亿元（人民币）或 万美元"),
    LedgerColumn("content", "建设内容", TEXT, 40, ""),
    LedgerColumn("stage", "项目阶段", TEXT, 10,
                 "在谈、签约、开工、投产、部分投产、达产，从下拉列表选择"),
    LedgerColumn("status", "项目状态", TEXT, 10, "正常推进、暂缓、终止；留空为正常推进"),
    *(LedgerColumn(f, str(lifecycle.MILESTONE_LABELS[s]), DATE, 12, _DATE_HINT)
      for s, f in lifecycle.MILESTONE_FIELDS.items()),
    LedgerColumn("unit", "责任单位", TEXT, 16, "从下拉列表选择"),
    LedgerColumn("leader", "挂钩领导", TEXT, 10, ""),
    LedgerColumn("officer", "招商责任人", TEXT, 10, "姓名"),
    LedgerColumn("issues", "存在问题", TEXT, 30, "需协调解决的问题"),
    LedgerColumn("notes", "备注", TEXT, 30, ""),
)
HEADERS = tuple(c.header for c in LEDGER_COLUMNS)

# The words the template's drop-down lists offer (units and industries come from the
# database).
STAGE_WORDS = (*(str(lifecycle.STAGE_LABELS[s]) for s in lifecycle.STAGES[:-1]),
               PARTIAL_PRODUCTION, str(lifecycle.STAGE_LABELS[lifecycle.AT_CAPACITY]))
STATUS_WORDS = tuple(str(label) for label in lifecycle.STATUS_LABELS.values())
AMOUNT_UNITS = (CNY_UNIT, USD_UNIT)
