"""The ledger's columns, in order: the one source of truth for export, the empty
template and import (header text, width, how a value is written)."""
from __future__ import annotations

from dataclasses import dataclass

from crm import lifecycle
from crm.models import TEXT_MAX

# How a column's values are written: text (never a formula), a number, a date of any
# precision (a day is a date cell, a month "2022-03", a year "2022"), the row number.
TEXT, NUMBER, DATE, SERIAL = "text", "number", "date", "serial"

CNY_UNIT, USD_UNIT = "亿元", "万美元"        # 总投资 is in these units
PARTIAL_PRODUCTION = "部分投产"
ISSUE_SEPARATOR = "；"      # 存在问题 holds a project's open issues joined by it
CELL_MAX = 32767           # the most characters an Excel cell holds


@dataclass(frozen=True)
class LedgerColumn:
    """One column of the ledger, with how to fill it in (the template's 填写说明)."""

    key: str
    header: str
    kind: str = TEXT
    width: int = 12
    hint: str = ""
    # Other headers hand-made ledgers use for this column (the importer's synonyms).
    aliases: tuple[str, ...] = ()


_DATE_HINT = "日期，如 2022-03-11；只知月份写 2022-03，只知年份写 2022"
_MILESTONE_ALIASES = {
    lifecycle.SIGNED: ("签约日期", "签约", "签约时间节点", "协议签订时间", "签订时间"),
    lifecycle.STARTED: ("开工日期", "开工", "实际开工时间", "计划开工时间"),
    lifecycle.PRODUCING: ("投产日期", "投产", "实际投产时间", "计划投产时间", "竣工投产时间"),
    lifecycle.AT_CAPACITY: ("达产日期", "达产", "实际达产时间", "计划达产时间"),
}

LEDGER_COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn("serial", "序号", SERIAL, 6, "可不填", ("序",)),
    LedgerColumn("code", "项目编号", TEXT, 14, "系统编号；新项目留空，导入时自动编号",
                 ("项目代码", "系统编号")),
    LedgerColumn("name", "项目名称", TEXT, 36, "必填，不超过 200 字", ("项目", "项目名")),
    LedgerColumn("company", "投资方", TEXT, 28, "企业全称",
                 ("投资主体", "企业名称", "投资企业", "投资单位", "投资商", "签约企业",
                  "客商名称", "客商", "企业", "投资方名称")),
    LedgerColumn("regions", "来源地", TEXT, 14, "多个来源地用“、”分隔，如 上海、苏州",
                 ("投资来源", "投资来源地", "项目来源地", "客商来源地", "来源", "资金来源地")),
    LedgerColumn("industry", "产业类别", TEXT, 14, "从下拉列表选择",
                 ("产业", "所属产业", "产业链", "所属产业链", "行业", "所属行业", "行业类别",
                  "产业分类")),
    LedgerColumn("amount", "总投资", NUMBER, 10, "数字，单位见“金额单位”列；未知留空，不要填 0",
                 ("计划总投资", "总投资额", "投资总额", "投资额", "协议投资", "协议总投资",
                  "项目总投资", "投资规模")),
    LedgerColumn("amount_unit", "金额单位", TEXT, 9, "亿元（人民币）或 万美元",
                 ("币种", "货币单位", "货币")),
    LedgerColumn("content", "建设内容", TEXT, 40, f"不超过 {TEXT_MAX} 字",
                 ("项目内容", "主要建设内容", "建设规模及内容", "建设内容及规模", "建设规模",
                  "项目简介", "项目概况")),
    LedgerColumn("stage", "项目阶段", TEXT, 10,
                 "在谈、签约、开工、投产、部分投产、达产，从下拉列表选择",
                 ("项目进展", "进展情况", "项目进度", "推进情况", "当前阶段", "所处阶段", "阶段",
                  "进展阶段", "项目进展情况")),
    LedgerColumn("status", "项目状态", TEXT, 10, "正常推进、暂缓、终止；留空为正常推进",
                 ("状态",)),
    *(LedgerColumn(f, str(lifecycle.MILESTONE_LABELS[s]), DATE, 12, _DATE_HINT,
                   _MILESTONE_ALIASES[s])
      for s, f in lifecycle.MILESTONE_FIELDS.items()),
    LedgerColumn("unit", "责任单位", TEXT, 16, "从下拉列表选择",
                 ("牵头单位", "责任部门", "承办单位", "包抓单位", "招商单位", "责任主体")),
    LedgerColumn("leader", "挂钩领导", TEXT, 10, "",
                 ("包抓领导", "联系领导", "责任领导", "分管领导", "包挂领导")),
    LedgerColumn("officer", "招商责任人", TEXT, 10, "姓名",
                 ("责任人", "跟踪人", "招商人员", "经办人", "项目责任人", "跟进人")),
    LedgerColumn("issues", "存在问题", TEXT, 30,
                 f"需协调解决的问题；多项用“{ISSUE_SEPARATOR}”分隔，每项不超过 {TEXT_MAX} 字",
                 ("需协调事项", "存在困难和问题", "存在问题及建议", "需协调解决的问题",
                  "问题及建议", "困难问题")),
    LedgerColumn("notes", "备注", TEXT, 30, f"不超过 {TEXT_MAX} 字", ("说明", "其他")),
)
HEADERS = tuple(c.header for c in LEDGER_COLUMNS)

# The words the template's drop-down lists offer (units and industries come from the
# database).
STAGE_WORDS = (*(str(lifecycle.STAGE_LABELS[s]) for s in lifecycle.STAGES[:-1]),
               PARTIAL_PRODUCTION, str(lifecycle.STAGE_LABELS[lifecycle.AT_CAPACITY]))
STATUS_WORDS = tuple(str(label) for label in lifecycle.STATUS_LABELS.values())
AMOUNT_UNITS = (CNY_UNIT, USD_UNIT)
