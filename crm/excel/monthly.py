"""The monthly report (月报): one workbook for the monthly meeting, every figure as of the
month's last day (today for the current month) from the dashboard's query functions,
written row by row (constant memory) with the long lists streamed from the database.

Regenerated later, a past month gives the same figures unless a milestone, drop or issue
dated in or before it was corrected. Stored only as they are now, and so shown: names,
amounts, units, industries, region tags, targets, the USD rate, the stalled thresholds,
and the hold status (as on the dashboard, a project put on hold or dropped after the
month no longer counts as stalled in it; the ledger shows it 正常推进 then).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import BinaryIO

from flask import current_app
from sqlalchemy import case, distinct, func, select, union
from sqlalchemy.orm import selectinload

from crm import lifecycle
from crm.clock import today
from crm.coordination.queries import open_issues_stmt
from crm.dashboard import queries as q
from crm.excel.columns import CNY_UNIT, USD_UNIT
from crm.excel.export import (BATCH, amount_cells, ledger_batches, ledger_rows, ledger_stmt,
                              milestones, status_on)
from crm.excel.writer import (AMOUNT, BOLD, LEDGER_WIDTHS, PERCENT, PERCENT_FORMAT, Book,
                              Heading, Sheet, Styled, append_ledger, look)
from crm.extensions import db
from crm.lifecycle import N_
from crm.models import (TARGET_METRICS, WAN_PER_YI, CoordinationIssue, Industry, Project,
                        Region, Unit, User, Visit, visit_participant)
from crm.projects.queries import ProjectFilters, milestone_col, stalled_level_condition
from crm.reference.queries import industries_stmt, regions_stmt, units_stmt, usd_rate
from crm.targets.queries import targets_for
from crm.visits.queries import VisitFilters, trip_stats, visit_list_stmt

# 填报单位 when neither the caller nor the ZONE_NAME setting names the bureau.
DEFAULT_ZONE_NAME = "开发区招商局"

SUMMARY = "汇总"
LIST_SHEETS = {lifecycle.SIGNED: "新签约项目", lifecycle.STARTED: "新开工项目",
               lifecycle.PRODUCING: "新投产项目", lifecycle.AT_CAPACITY: "新达产项目"}
BY_REGION, BY_INDUSTRY, BY_UNIT = "分来源地", "分产业", "分责任单位"
STALLED, ISSUES, VISITS, LEDGER = "滞后项目", "需协调事项", "走访情况", "项目台账"
SHEETS = (SUMMARY, *LIST_SHEETS.values(), BY_REGION, BY_INDUSTRY, BY_UNIT, STALLED, ISSUES,
          VISITS, LEDGER)

MONTH_FORMAT_ERROR = N_("月份格式应为 YYYY-MM，如 2026-10")
FUTURE_MONTH_ERROR = N_("不能生成未来月份的月报")

_LEVEL_LOOKS = {"yellow": look(pattern=1, bg_color="#FFEB9C"),
                "red": look(pattern=1, bg_color="#FFC7CE")}
LEVEL_WORDS = {"yellow": "黄灯", "red": "红灯"}
STAGE_WORDS = {s: str(label) for s, label in lifecycle.STAGE_LABELS.items()}


# ---------------------------------------------------------------- the month

def parse_month(text: str | None, day: date) -> date:
    """The first day of the month ``YYYY-MM`` names; ValueError (a message to translate)
    for anything else or for a month after ``day``'s."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", (text or "").strip())
    if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1900:
        raise ValueError(MONTH_FORMAT_ERROR)
    month = date(int(m[1]), int(m[2]), 1)
    if month > day.replace(day=1):
        raise ValueError(FUTURE_MONTH_ERROR)
    return month


def last_complete_month(day: date) -> date:
    """The first day of the month before ``day``'s."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def report_day(month: date) -> date:
    """The report's as-of day: the month's last day, or today for the current month (as
    the dashboard: a stalled project's days are counted to a day that has come)."""
    return min(q.month_end(month.year, month.month), today())


def file_name(month: date) -> str:
    """The workbook's download name, e.g. 招商月报-2026年10月.xlsx."""
    return f"招商月报-{month.year}年{month.month}月.xlsx"


# ---------------------------------------------------------------- cells

def _n(value, fmt: str) -> Styled:
    """A number with a number format."""
    return Styled(value, look(num_format=fmt))


def _amount(value):
    """An amount in 亿元 or 万美元."""
    return None if value is None else Styled(value, AMOUNT)


def _pct(ratio):
    """A share, shown as a percentage."""
    return None if ratio is None else Styled(ratio, PERCENT)


def _bold(text: str) -> Styled:
    """A bold label (a section title or a total row's name)."""
    return Styled(text, BOLD)


def _yi(wan: Decimal) -> Decimal:
    """万 as 亿."""
    return wan / WAN_PER_YI


def _sum(items) -> q.Totals:
    """The totals of several sets of projects that do not overlap."""
    out = q.Totals()
    for t in items:
        out = q.Totals(out.count + t.count, out.cny_wan + t.cny_wan, out.usd_wan + t.usd_wan,
                       out.combined_wan + t.combined_wan, out.major + t.major)
    return out


def _totals(t: q.Totals, combined: bool = True) -> list:
    """Count, 人民币 (亿元), 外资 (万美元) and, with ``combined``, 折合 (亿元)."""
    cells = [t.count, _amount(_yi(t.cny_wan)), _amount(t.usd_wan)]
    return cells + [_amount(t.combined_yi)] if combined else cells


def _day_text(day: date) -> str:
    """A day as the sheets write it: 2026年10月31日."""
    return f"{day.year}年{day.month}月{day.day}日"


class _Sheet(Sheet):
    """A sheet of the report, with its heading."""

    def __init__(self, report: _Report, name: str, title: str, widths, header_row=None):
        """Add the sheet ``name``: widths, panes, print settings and the heading."""
        super().__init__(report.book, name, widths, Heading(title, report.zone, report.as_of),
                         header_row)

    def section(self, text: str) -> int:
        """Write a section title (after a blank row unless right below the heading)."""
        if self.row > 2:
            self.add([])
        return self.add([_bold(text)])


@dataclass
class _Report:
    """What every sheet shares: the workbook, the month, its as-of day and periods."""

    book: Book
    month: date
    as_of: date
    zone: str

    def __post_init__(self):
        """The zone-wide filters and the month's and year's periods."""
        self.base = ProjectFilters()
        self.periods = {"month": q.period("month", self.as_of),
                        "year": q.period("year", self.as_of)}
        self.label = f"{self.month.year}年{self.month.month}月"


# ---------------------------------------------------------------- 汇总

def _summary(r: _Report, tiles: dict, live: q.Pipeline, zone_targets: list) -> None:
    """New milestones of the month and year to date, the pipeline by stage at month end,
    the zone's targets against 序时进度, and charts of them."""
    sheet = _Sheet(r, SUMMARY, f"{r.zone}招商引资工作月报（{r.label}）",
                   (24, 10, 14, 14, 14, 10, 14, 14, 14))
    sheet.section("一、新增项目情况（按里程碑日期计入）")
    new_header = sheet.header("指标", "本月个数", "本月人民币（亿元）", "本月外资（万美元）",
                              "本月折合（亿元）", "本年累计个数", "本年人民币（亿元）",
                              "本年外资（万美元）", "本年折合（亿元）")
    for s in q.TILE_STAGES:
        sheet.add([f"新{STAGE_WORDS[s]}项目", *_totals(tiles["month"][s]),
                   *_totals(tiles["year"][s])])
    sheet.add(["其中：新签约10亿元以上项目", tiles["month"][lifecycle.SIGNED].major, None, None,
               None, tiles["year"][lifecycle.SIGNED].major])

    sheet.section("二、在库项目（截至月末，不含终止）")
    stage_header = sheet.header("阶段", "个数", "人民币（亿元）", "外资（万美元）", "折合（亿元）")
    stages = live.by_stage()
    for s, t in stages.items():
        sheet.add([STAGE_WORDS[s], *_totals(t)])
    sheet.add([_bold("合计"), *_totals(_sum(stages.values()))])

    pace = q.pace(r.as_of)
    sheet.section(f"三、招商任务完成情况（全区，序时进度 {pace * 100:.1f}%）")
    target_header = sheet.header("指标", "目标", "计量单位", "完成", "完成率", "序时进度",
                                 "进度评价")
    for c in zone_targets:
        sheet.add(_completion_cells(c)[1:])
    if not zone_targets:
        sheet.add([f"{r.as_of.year}年尚未设置全区招商任务"])
    sheet.add([])
    sheet.add([f"注：折合金额按美元汇率 {usd_rate()} 折算；在库项目按各项目截至月末"
               "所处阶段统计；完成率对照序时进度（已过月份占全年的比例）。"])

    # Native charts over the sheet's own cells (they follow any edit in Excel).
    at = sheet.row + 2
    bar = _chart(r, "column", "新增项目个数", 14)     # beside it, the pie from column F
    for col in (2, 6):
        _series(bar, new_header, col, 4)
    bar.set_y_axis({"name": "个"})
    sheet.ws.insert_chart(f"A{at}", bar)
    pie = _chart(r, "pie", "在库项目阶段分布（个）", 12)
    _series(pie, stage_header, 2, len(stages), data_labels={"value": True})
    sheet.ws.insert_chart(f"F{at}", pie)
    if zone_targets:
        done = _chart(r, "bar", "全区任务完成率与序时进度", 14)
        for col in (5, 6):
            _series(done, target_header, col, len(zone_targets))
        done.set_x_axis({"num_format": PERCENT_FORMAT})    # the value axis of a bar chart
        sheet.ws.insert_chart(f"A{at + 16}", done)   # below the first two (15 rows high)


_PIXELS_PER_CM = 96 / 2.54


def _chart(r: _Report, kind: str, title: str, width_cm: float):
    """A chart of the workbook, ``width_cm`` wide (as high as Excel's default)."""
    chart = r.book.wb.add_chart({"type": kind})
    chart.set_title({"name": title})
    chart.set_size({"width": round(width_cm * _PIXELS_PER_CM)})
    return chart


def _series(chart, header: int, col: int, rows: int, **options) -> None:
    """A series of 汇总's column ``col`` below its ``header`` row (both 1-based, as in
    Excel), named by the header, over the first column's ``rows`` labels."""
    def cells(column: int, first: int, last: int) -> list:
        return [SUMMARY, first - 1, column - 1, last - 1, column - 1]
    chart.add_series({"name": [SUMMARY, header - 1, col - 1],
                      "categories": cells(1, header + 1, header + rows),
                      "values": cells(col, header + 1, header + rows), **options})


def _metric_label(target) -> str:
    """A target's metric, with its source region when it has one."""
    label = str(TARGET_METRICS[target.metric][0])
    return f"{label}（{target.region.name}）" if target.region else label


def _completion_cells(c: q.Completion) -> list:
    """单位, 指标, 目标, 计量单位, 完成, 完成率, 序时进度, 进度评价 of one target."""
    t = c.target
    unit_word = str(TARGET_METRICS[t.metric][1])
    amount = q.METRICS[t.metric][1] == "combined_yi"
    return [t.unit.name if t.unit else "全区",
            _metric_label(t),
            _amount(t.value) if amount else t.value, unit_word,
            _amount(c.actual) if amount else int(c.actual),
            _pct(c.ratio), _pct(c.pace),
            "超序时" if c.ahead else "落后序时"]


# ---------------------------------------------------------------- 新签约 … 一览表

LIST_HEADERS = ("序号", "项目编号", "项目名称", "投资方", "来源地", "产业类别", "责任单位",
                "总投资（亿元）", "总投资（万美元）", None, "月末阶段", "项目状态", "建设内容",
                "挂钩领导", "招商责任人")
LIST_WIDTHS = (6, 14, 32, 26, 14, 12, 14, 12, 12, 12, 10, 10, 36, 10, 10)


def _milestone_list(r: _Report, stage: str, total: q.Totals) -> None:
    """The projects that reached ``stage`` in the month (what the 汇总 counts: the
    dashboard's tile links to the same filters), by milestone date, and their total."""
    sheet = _Sheet(r, LIST_SHEETS[stage], f"{r.label}新{STAGE_WORDS[stage]}项目一览表",
                   LIST_WIDTHS, header_row=3)
    headers = list(LIST_HEADERS)
    headers[9] = str(lifecycle.MILESTONE_LABELS[stage])
    sheet.header(*headers)
    stmt = (ledger_stmt(q.reached_filters(r.base, stage, r.periods["month"]))
            .order_by(None).order_by(milestone_col(stage), Project.code))
    serial = 0
    for batch, regions, _ in ledger_batches(stmt, issues=False):
        for p in batch:
            serial += 1
            amount, unit = amount_cells(p.investment_amount, p.investment_currency)
            dates = milestones(p)
            sheet.add([serial, p.code, p.name, p.company, "、".join(regions.get(p.id, [])),
                       p.industry, p.unit, _amount(amount if unit == CNY_UNIT else None),
                       _amount(amount if unit == USD_UNIT else None), dates[stage],
                       STAGE_WORDS[lifecycle.stage_on(dates, r.as_of)],
                       str(lifecycle.STATUS_LABELS[status_on(p.status, p.status_on, r.as_of)]),
                       p.content, p.leader_name, p.officer])
    sheet.add([_bold("合计"), _n(total.count, '#,##0"个"'), None, None, None, None,
               None, _amount(_yi(total.cny_wan)), _amount(total.usd_wan)])


# ---------------------------------------------------------------- 分来源地 / 分产业

BREAKDOWN_HEADERS = ("本月新签约（个）", "本月签约人民币（亿元）", "本月签约外资（万美元）",
                     "本年新签约（个）", "本年签约人民币（亿元）", "本年签约外资（万美元）",
                     *(f"在库·{STAGE_WORDS[s]}" for s in lifecycle.STAGES), "在库合计（个）")
BREAKDOWN_WIDTHS = (18, 10, 12, 12, 10, 12, 12, 8, 8, 8, 8, 8, 10, 12)


def _breakdown_cells(signed: dict[str, q.Totals], cells: dict[str, q.Totals]) -> list:
    """New signings of the month and the year, then the pipeline by stage and in all."""
    return [*_totals(signed["month"], combined=False),
            *_totals(signed["year"], combined=False),
            *(cells.get(s, q.Totals()).count for s in lifecycle.STAGES),
            sum(t.count for t in cells.values())]


def _signed(r: _Report, base: ProjectFilters) -> dict[str, q.Totals]:
    """New signings of the month and the year to date among ``base``'s projects (the
    dashboard's signing tiles under the same filter)."""
    return {kind: q.reached(base, lifecycle.SIGNED, p) for kind, p in r.periods.items()}


def _has_figures(signed: dict[str, q.Totals], cells: dict) -> bool:
    """True when a row has any signing or any project in the pipeline."""
    return bool(cells) or any(t.count for t in signed.values())


def _by_region(r: _Report) -> None:
    """New signings and the pipeline per source-region group (the dashboard's region
    chart and its region filter); a project tagged in two groups counts in both."""
    sheet = _Sheet(r, BY_REGION, f"{r.label}分来源地招商情况", BREAKDOWN_WIDTHS, header_row=3)
    sheet.header("来源地", *BREAKDOWN_HEADERS)
    active = set(db.session.scalars(regions_stmt().with_only_columns(Region.id)))
    pipeline = q.by_region(r.base, r.as_of)
    for gid, name, _ids in q.region_groups(None):
        signed = _signed(r, ProjectFilters(region_id=gid))
        cells = pipeline.cells.get(gid, {})
        if gid in active or _has_figures(signed, cells):
            sheet.add([name, *_breakdown_cells(signed, cells)])
    sheet.add([])
    sheet.add(["注：来源地按地区分组汇总；一个项目有多个来源地时分别计入，"
               "各组之和可能大于项目总数。"])


def _by_industry(r: _Report, tiles: dict, live: q.Pipeline) -> None:
    """New signings and the pipeline per industry (the dashboard's industry chart and
    filter), with the zone's total; projects without an industry as 未指定."""
    sheet = _Sheet(r, BY_INDUSTRY, f"{r.label}分产业招商情况", BREAKDOWN_WIDTHS, header_row=3)
    sheet.header("产业", *BREAKDOWN_HEADERS)
    active = set(db.session.scalars(industries_stmt().with_only_columns(Industry.id)))
    breakdown = q.by_industry(r.base, r.as_of, live)
    zone = {kind: tiles[kind][lifecycle.SIGNED] for kind in r.periods}
    listed = {kind: [] for kind in r.periods}
    for key, name in q.industry_labels():
        if key is None:
            # No filter selects "no industry": the zone's figure less the industries'.
            signed = {kind: _minus(zone[kind], listed[kind]) for kind in r.periods}
        else:
            signed = _signed(r, ProjectFilters(industry_id=key))
            for kind in r.periods:
                listed[kind].append(signed[kind])
        cells = breakdown.cells.get(key, {})
        if key in active or _has_figures(signed, cells):
            sheet.add([name, *_breakdown_cells(signed, cells)])
    sheet.add([_bold("合计"), *_breakdown_cells(zone, live.by_stage())])


def _minus(total: q.Totals, parts: list[q.Totals]) -> q.Totals:
    """What ``total`` holds beyond ``parts``."""
    done = _sum(parts)
    return q.Totals(total.count - done.count, total.cny_wan - done.cny_wan,
                    total.usd_wan - done.usd_wan, total.combined_wan - done.combined_wan,
                    total.major - done.major)


# ---------------------------------------------------------------- 分责任单位

def _by_unit(r: _Report, live: q.Pipeline, unit_targets: list) -> None:
    """Each unit's figures for the month and the year to date, ranked by the year's
    signed investment (the dashboard's ranking), its pipeline, and its targets."""
    sheet = _Sheet(r, BY_UNIT, f"{r.label}各责任单位招商情况及排名",
                   (6, 18, 10, 12, 10, 10, 10, 10, 12, 10, 10, 10, 10), header_row=3)
    words = {m: str(TARGET_METRICS[m][0]) for m in q.RANKING_METRICS}
    units = {m: str(TARGET_METRICS[m][1]) for m in q.RANKING_METRICS}
    per = [f"{words[m]}（{units[m]}）" for m in q.RANKING_METRICS]
    sheet.header("名次", "单位", *(f"本月{h}" for h in per), *(f"本年{h}" for h in per),
                 "在库项目（个）")
    month = {row.unit_id: row for row in q.unit_ranking(r.base, r.periods["month"])}
    pipeline = q.by_unit(r.base, r.as_of, live)

    def figure(row, m):
        """A ranking figure: 亿元 as an amount, counts as integers."""
        value = row.values[m]
        return _amount(value) if units[m] != "个" else int(value)

    for row in q.unit_ranking(r.base, r.periods["year"], "signed_amount"):
        sheet.add([row.rank, row.name,
                   *(figure(month[row.unit_id], m) for m in q.RANKING_METRICS),
                   *(figure(row, m) for m in q.RANKING_METRICS),
                   pipeline.total(row.unit_id).count])
    sheet.add(["注：名次按本年累计签约总投资排列；金额为折合人民币（亿元）。"])
    sheet.section(f"各单位招商任务完成情况（序时进度 {q.pace(r.as_of) * 100:.1f}%）")
    sheet.header("单位", "指标", "目标", "计量单位", "完成", "完成率", "序时进度", "进度评价")
    for c in unit_targets:
        sheet.add(_completion_cells(c))
    if not unit_targets:
        sheet.add([f"{r.as_of.year}年尚未设置各单位招商任务"])


# ---------------------------------------------------------------- 滞后项目

STALLED_STAGES = (lifecycle.SIGNED, lifecycle.STARTED, lifecycle.PRODUCING)
STALLED_LIST_ROW = 9    # the list's header: below the heading and the counts


def _stalled(r: _Report) -> None:
    """The stalled counts by kind and light (the dashboard's), then every 三未 project
    on the month end, longest waiting first, with its days and light."""
    sheet = _Sheet(r, STALLED, f"{r.label}滞后项目（三未）情况",
                   (6, 14, 14, 30, 26, 14, 10, 12, 10, 8), header_row=STALLED_LIST_ROW)
    counts = q.stalled_counts(r.base, r.as_of)
    kinds = list(counts)
    sheet.section("预警汇总（个）")
    sheet.header("预警", *(str(lifecycle.STALLED_LABELS[s]) for s in kinds), "合计")
    for level in ("yellow", "red"):
        sheet.add([Styled(LEVEL_WORDS[level], _LEVEL_LOOKS[level]),
                   *(counts[s][level] for s in kinds), sum(counts[s][level] for s in kinds)])
    sheet.section("三未项目清单（截至月末，滞后时间长的在前）")
    sheet.header("序号", "类型", "项目编号", "项目名称", "投资方", "责任单位", "招商责任人",
                 "起算日期", "滞后天数", "预警")
    serial = 0
    lights = {level: Styled(word, _LEVEL_LOOKS[level]) for level, word in LEVEL_WORDS.items()}
    for s in STALLED_STAGES:
        kind = str(lifecycle.STALLED_LABELS[s])
        red = case((stalled_level_condition(s, "red", r.as_of), "red"), else_="yellow")
        stmt = (ledger_stmt(q.stalled_filters(r.base, r.as_of, "any", s))
                .add_columns(red.label("level"))
                .order_by(None).order_by(milestone_col(s), Project.id)
                .execution_options(yield_per=BATCH))
        for p in db.session.execute(stmt):
            serial += 1
            since = milestones(p)[s]
            sheet.add([serial, kind, p.code, p.name, p.company, p.unit, p.officer, since,
                       (r.as_of - since.start).days, lights[p.level]])
    if not serial:
        sheet.add(["无"])


# ---------------------------------------------------------------- 需协调事项

def _issues(r: _Report) -> None:
    """The coordination issues open at the month end, oldest first."""
    sheet = _Sheet(r, ISSUES, f"未销号需协调事项（截至{_day_text(r.as_of)}）",
                   (6, 14, 28, 14, 44, 12, 14, 12, 10, 8), header_row=3)
    sheet.header("序号", "项目编号", "项目名称", "项目责任单位", "问题描述", "提出日期",
                 "需协调单位", "办结时限", "已挂天数", "是否超期")
    stmt = (open_issues_stmt(as_of=r.as_of)
            .options(selectinload(CoordinationIssue.project).selectinload(Project.unit))
            .execution_options(yield_per=BATCH))
    n = 0
    for n, issue in enumerate(db.session.scalars(stmt), 1):
        p = issue.project
        late = issue.due_on is not None and issue.due_on < r.as_of
        sheet.add([n, p.code, p.name, p.unit.name if p.unit else "", issue.description,
                   issue.raised_on, issue.acting_unit.name if issue.acting_unit else "",
                   issue.due_on, (r.as_of - issue.raised_on).days, "超期" if late else ""])
    sheet.add([_bold("合计"), _n(n, '#,##0"项"')])


# ---------------------------------------------------------------- 走访情况

def _visits(r: _Report) -> None:
    """The month's visits per unit and per officer (visits logged or taken part in),
    and the 外出招商 trips per officer."""
    sheet = _Sheet(r, VISITS, f"{r.label}走访及外出招商情况", (18, 12, 10, 10, 10, 10, 12))
    in_month = visit_list_stmt(VisitFilters(date_from=r.month, date_to=r.as_of)).order_by(None)

    sheet.section("一、各单位走访情况")
    sheet.header("单位", "走访次数", "上门拜访", "来访接待", "领导带队", "走访企业数")
    figures = (func.count(Visit.id), func.count(case((Visit.kind == "visit", 1))),
               func.count(case((Visit.kind == "reception", 1))),
               func.count(case((Visit.led_by_leader.is_(True), 1))),
               func.count(distinct(Visit.company_id)))
    per_unit = {row[0]: row[1:] for row in db.session.execute(
        in_month.with_only_columns(Visit.unit_id, *figures).group_by(Visit.unit_id))}
    active = set(db.session.scalars(units_stmt().with_only_columns(Unit.id)))
    for key, name in q.unit_labels():
        if key in active or key in per_unit:
            sheet.add([name, *per_unit.get(key, (0,) * len(figures))])
    total = db.session.execute(in_month.with_only_columns(*figures)).one()
    sheet.add([_bold("合计"), *total])

    sheet.section("二、人员走访情况（含参与的走访）")
    sheet.header("单位", "人员", "走访次数", "走访企业数")
    visits = in_month.with_only_columns(Visit.id, Visit.created_by_id, Visit.company_id) \
        .subquery()
    involved = union(
        select(visits.c.id.label("visit_id"), visits.c.created_by_id.label("user_id"),
               visits.c.company_id),
        select(visit_participant.c.visit_id, visit_participant.c.user_id, visits.c.company_id)
        .join(visits, visits.c.id == visit_participant.c.visit_id)).subquery()
    rows = db.session.execute(
        select(Unit.name, User.display_name, func.count(distinct(involved.c.visit_id)),
               func.count(distinct(involved.c.company_id)))
        .join(involved, involved.c.user_id == User.id).outerjoin(Unit, User.unit_id == Unit.id)
        .group_by(User.id, User.display_name, Unit.id, Unit.name, Unit.sort_order)
        .order_by(Unit.id.is_(None), Unit.sort_order, Unit.id, User.display_name, User.id)
    ).all()
    for unit, person, n, companies in rows:
        sheet.add([unit or str(q.UNSPECIFIED), person, n, companies])
    if not rows:
        sheet.add(["本月无走访记录"])

    sheet.section("三、外出招商情况")
    sheet.header("单位", "人员", "外出次数", "外出天数", "走访企业数")
    trips = trip_stats(r.month)
    for t in trips:
        sheet.add([t.unit, t.officer, t.trips, t.days_away, t.companies])
    sheet.add([_bold("合计"), None, sum(t.trips for t in trips),
               sum(t.days_away for t in trips)])


# ---------------------------------------------------------------- 项目台账

def _ledger(r: _Report) -> int:
    """The live pipeline on the month end in the ledger's format, each project at its
    stage and status then (the list's "as of a day" view), streamed."""
    sheet = _Sheet(r, LEDGER, f"项目台账（截至{_day_text(r.as_of)}）", LEDGER_WIDTHS,
                   header_row=3)
    return append_ledger(sheet, ledger_rows(q.pipeline_filters(r.base, r.as_of), "code",
                                            as_of=r.as_of))


# ---------------------------------------------------------------- the workbook

def write_monthly_report(month: date, out: BinaryIO, zone_name: str | None = None) -> None:
    """Write the monthly report of ``month`` (any day of it; as of its last day, or
    today for the current month) to ``out``: the SHEETS in order."""
    month = month.replace(day=1)
    zone = zone_name or current_app.config.get("ZONE_NAME") or DEFAULT_ZONE_NAME
    r = _Report(Book(out), month, report_day(month), zone)
    tiles = {kind: q.milestone_tiles(r.base, p) for kind, p in r.periods.items()}
    live = q.pipeline(r.base, r.as_of)
    completions = q.completion(targets_for(r.as_of.year), r.as_of)
    _summary(r, tiles, live, [c for c in completions if c.target.unit_id is None])
    for stage in LIST_SHEETS:
        _milestone_list(r, stage, tiles["month"][stage])
    _by_region(r)
    _by_industry(r, tiles, live)
    _by_unit(r, live, [c for c in completions if c.target.unit_id is not None])
    _stalled(r)
    _issues(r)
    _visits(r)
    _ledger(r)
    r.book.close()
