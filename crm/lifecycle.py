"""Project lifecycle rules: stage order, milestone dates with precision, stage gates
and stalled-project rules. Pure functions with no Flask or database: services and
reports call these, tests exercise them directly.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Mapping


def N_(text: str) -> str:
    """Mark a string for translation; it is translated where it is displayed."""
    return text


LEAD, SIGNED, STARTED, PRODUCING, AT_CAPACITY = (
    "lead", "signed", "started", "producing", "at_capacity")
STAGES = (LEAD, SIGNED, STARTED, PRODUCING, AT_CAPACITY)
STAGE_LABELS = {
    LEAD: N_("在谈"), SIGNED: N_("签约"), STARTED: N_("开工"),
    PRODUCING: N_("投产"), AT_CAPACITY: N_("达产"),
}
# The project attribute holding each stage's milestone date (lead has none).
MILESTONE_FIELDS = {
    SIGNED: "signed_on", STARTED: "started_on",
    PRODUCING: "producing_on", AT_CAPACITY: "at_capacity_on",
}
MILESTONE_LABELS = {
    SIGNED: N_("签约时间"), STARTED: N_("开工时间"),
    PRODUCING: N_("投产时间"), AT_CAPACITY: N_("达产时间"),
}

ACTIVE, ON_HOLD, DROPPED = "active", "on_hold", "dropped"
STATUSES = (ACTIVE, ON_HOLD, DROPPED)
STATUS_LABELS = {ACTIVE: N_("正常推进"), ON_HOLD: N_("暂缓"), DROPPED: N_("终止")}

DAY, MONTH, YEAR = "day", "month", "year"
PRECISIONS = (DAY, MONTH, YEAR)

# Fields a project needs once it is signed, with their labels.
SIGNING_REQUIRED = {
    "company": N_("投资方"),
    "investment": N_("总投资"),
    "industry": N_("产业类别"),
    "regions": N_("来源地"),
    "unit": N_("责任单位"),
}

# Stalled-project thresholds in days (yellow, red); DESIGN.md §3 defaults.
DEFAULT_STALLED_THRESHOLDS = {
    SIGNED: (90, 180),       # signed, not started
    STARTED: (365, 540),     # started, not producing
    PRODUCING: (365, 730),   # producing, not at capacity
    LEAD: (60, 90),          # lead without a visit or progress
}
LEAD_PROPOSE_DROP_DAYS = 180
STALLED_LABELS = {
    SIGNED: N_("已签约未开工"), STARTED: N_("已开工未投产"),
    PRODUCING: N_("已投产未达产"), LEAD: N_("在谈久未跟进"),
}


def stage_index(stage: str) -> int:
    """Return the position of a stage in the lifecycle (lead = 0)."""
    return STAGES.index(stage)


@dataclass(frozen=True, order=False)
class PartialDate:
    """A milestone date known to the day, the month or only the year.

    ``value`` is the first day of the period, so ``2022年3月`` is stored as 2022-03-01
    with precision ``month`` and is always shown as ``2022-03``, never as a day.
    """

    value: date
    precision: str = DAY

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}")
        start = _truncate(self.value, self.precision)
        if start != self.value:
            object.__setattr__(self, "value", start)

    @property
    def start(self) -> date:
        """First day of the period."""
        return self.value

    @property
    def end(self) -> date:
        """Last day of the period."""
        if self.precision == DAY:
            return self.value
        if self.precision == MONTH:
            last = calendar.monthrange(self.value.year, self.value.month)[1]
            return self.value.replace(day=last)
        return self.value.replace(month=12, day=31)

    def __str__(self) -> str:
        if self.precision == DAY:
            return self.value.isoformat()
        if self.precision == MONTH:
            return f"{self.value.year:04d}-{self.value.month:02d}"
        return f"{self.value.year:04d}"


def _truncate(day: date, precision: str) -> date:
    if precision == MONTH:
        return day.replace(day=1)
    if precision == YEAR:
        return day.replace(month=1, day=1)
    return day


_COARSER = {DAY: 0, MONTH: 1, YEAR: 2}


def compare(a: PartialDate, b: PartialDate) -> int:
    """Compare two partial dates at the coarser of their precisions (-1, 0, 1).

    ``2022-03`` and ``2022-03-15`` compare equal: neither is known to be earlier.
    """
    precision = a.precision if _COARSER[a.precision] >= _COARSER[b.precision] else b.precision
    x, y = _truncate(a.value, precision), _truncate(b.value, precision)
    return (x > y) - (x < y)


def is_future(d: PartialDate, today: date) -> bool:
    """True when the whole period of ``d`` lies after ``today``."""
    return d.start > today


_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), DAY),
    (re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"), DAY),
    (re.compile(r"^(\d{4})[-/](\d{1,2})$"), MONTH),
    (re.compile(r"^(\d{4})年(\d{1,2})月(?:份)?$"), MONTH),
    (re.compile(r"^(\d{4})\.(\d{1,2})$"), MONTH),   # 2023.6 is June, 2023.1 January
    (re.compile(r"^(\d{4})年?$"), YEAR),
)


def parse_partial_date(text: str) -> PartialDate | None:
    """Parse a typed date keeping its precision; None for blank text.

    Accepts ``2022-03-11``, ``2022/3/11``, ``2022年3月11日``, ``2022-03``, ``2022年3月``,
    ``2023.6``, ``2022`` and ``2022年``. Raises ValueError for anything else,
    including impossible dates such as ``2022-02-30``.
    """
    text = (text or "").strip()
    if not text:
        return None
    for pattern, precision in _DATE_PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        parts = [int(g) for g in m.groups()]
        year = parts[0]
        month = parts[1] if len(parts) > 1 else 1
        day = parts[2] if len(parts) > 2 else 1
        if not 1900 <= year <= 2999:
            raise ValueError(text)
        return PartialDate(date(year, month, day), precision)
    raise ValueError(text)


@dataclass(frozen=True)
class RuleError:
    """A broken rule: the field it concerns and a translatable message template."""

    field: str
    message: str
    params: Mapping[str, str] = field(default_factory=dict)


Milestones = Mapping[str, "PartialDate | None"]


def current_stage(milestones: Milestones) -> str:
    """Return the stage implied by the milestones set: the highest one with a date."""
    stage = LEAD
    for s in STAGES[1:]:
        if milestones.get(s) is not None:
            stage = s
    return stage


def stage_on(milestones: Milestones, day: date) -> str:
    """Return a project's stage on ``day``: the highest stage whose milestone is ≤ day.

    A month- or year-precision milestone counts from the first day of its period, so
    a signing known as ``2022-03`` counts in March 2022 reports.
    """
    stage = LEAD
    for s in STAGES[1:]:
        d = milestones.get(s)
        if d is not None and d.start <= day:
            stage = s
    return stage


def missing_for_stage(stage: str, values: Mapping[str, object]) -> list[RuleError]:
    """Return the fields a project at ``stage`` must have but lacks."""
    if stage_index(stage) < stage_index(SIGNED):
        return []
    return [RuleError(name, N_("%(field)s：签约及以后阶段的项目必须填写"), {"field": label})
            for name, label in SIGNING_REQUIRED.items() if not values.get(name)]


def check_milestone_order(milestones: Milestones, today: date) -> list[RuleError]:
    """Check that no milestone lies in the future or before an earlier stage's.

    Each date is checked against every earlier milestone, not only the nearest: with
    mixed precisions (signed 2022-03-15, started 2022, producing 2022-01-10) each
    neighbouring pair compares equal while production is known to precede signing.
    """
    errors: list[RuleError] = []
    earlier: list[tuple[str, PartialDate]] = []
    for s in STAGES[1:]:
        d = milestones.get(s)
        if d is None:
            continue
        label = MILESTONE_LABELS[s]
        if is_future(d, today):
            errors.append(RuleError(MILESTONE_FIELDS[s], N_("%(field)s：不能晚于今天"),
                                    {"field": label}))
        conflict = next((p for p in reversed(earlier) if compare(d, p[1]) < 0), None)
        if conflict:
            errors.append(RuleError(
                MILESTONE_FIELDS[s], N_("%(field)s：不能早于%(other)s（%(date)s）"),
                {"field": label, "other": MILESTONE_LABELS[conflict[0]],
                 "date": str(conflict[1])}))
        earlier.append((s, d))
    return errors


def check_advance(current: str, target: str, milestones: Milestones,
                  new_dates: Milestones, values: Mapping[str, object],
                  today: date) -> list[RuleError]:
    """Check a forward move from ``current`` to ``target``.

    ``new_dates`` must give the milestone date of every stage passed and none beyond
    ``target``; the dates may not
    lie in the future or before the previous milestone, and a project reaching signing
    needs investor, total investment, industry, a region and a unit.
    """
    if target not in STAGES:
        return [RuleError("stage", N_("目标阶段：无效的阶段"))]
    if stage_index(target) <= stage_index(current):
        return [RuleError("stage", N_("目标阶段：必须在当前阶段之后"))]
    errors: list[RuleError] = []
    for s in STAGES[stage_index(target) + 1:]:
        if new_dates.get(s) is not None:
            # Never drop a typed date silently: it belongs to a later move.
            errors.append(RuleError(MILESTONE_FIELDS[s],
                                    N_("%(field)s：目标阶段是%(stage)s，不能填写此后阶段的时间"),
                                    {"field": MILESTONE_LABELS[s],
                                     "stage": STAGE_LABELS[target]}))
    merged = dict(milestones)
    for s in STAGES[stage_index(current) + 1: stage_index(target) + 1]:
        d = new_dates.get(s)
        if d is None:
            errors.append(RuleError(MILESTONE_FIELDS[s], N_("%(field)s：请填写"),
                                    {"field": MILESTONE_LABELS[s]}))
        merged[s] = d
    errors += check_milestone_order(merged, today)
    errors += missing_for_stage(target, values)
    return errors


def check_correction(current: str, target: str, reason: str) -> list[RuleError]:
    """Check a backward correction: an earlier stage and a reason are required."""
    if target not in STAGES:
        return [RuleError("stage", N_("目标阶段：无效的阶段"))]
    errors = []
    if stage_index(target) >= stage_index(current):
        errors.append(RuleError("stage", N_("目标阶段：更正只能退回到更早的阶段")))
    if not (reason or "").strip():
        errors.append(RuleError("reason", N_("更正原因：请填写")))
    return errors


def stages_cleared_by_correction(target: str) -> list[str]:
    """Return the stages whose milestones a correction back to ``target`` clears."""
    return list(STAGES[stage_index(target) + 1:])


def stalled_level(stage: str, status: str, stage_since: date | None,
                  last_activity: date | None, today: date,
                  thresholds: Mapping[str, tuple[int, int]] = DEFAULT_STALLED_THRESHOLDS
                  ) -> str | None:
    """Return ``"yellow"``, ``"red"`` or None for an active project.

    ``stage_since`` is the current stage's milestone start; for a lead,
    ``last_activity`` is its latest visit or progress (or creation) date.
    """
    if status != ACTIVE or stage == AT_CAPACITY:
        return None
    since = last_activity if stage == LEAD else stage_since
    if since is None:
        return None
    yellow, red = thresholds[stage]
    days = (today - since).days
    if days >= red:
        return "red"
    if days >= yellow:
        return "yellow"
    return None
