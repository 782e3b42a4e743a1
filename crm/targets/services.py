"""Set, change, delete and copy annual targets, each step in the change history
(add and flush, never commit)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from crm.errors import RulesBroken
from crm.extensions import db
from crm.history import record_change, record_diff
from crm.i18n import format_number
from crm.lifecycle import N_, RuleError
from crm.models import REGION_METRIC, TARGET_METRICS, Region, Target, Unit, User
from crm.targets.queries import find_target

MIN_YEAR, MAX_YEAR = 2000, 2100
# Largest value Numeric(14, 2) holds, with room to spare.
MAX_VALUE = Decimal(10) ** 10
ZONE = N_("全区")  # the whole zone: a target without a unit
# Metrics that count projects (个): their targets are whole numbers.
COUNTED_METRICS = frozenset(m for m, (_label, unit) in TARGET_METRICS.items() if unit == "个")

FIELD_LABELS = {
    "year": N_("年度"), "unit": N_("责任单位"), "metric": N_("指标"), "region": N_("来源地"),
    "value": N_("目标值"), "created": N_("创建"), "copied": N_("从上一年复制"),
    "deleted": N_("删除"),
}


@dataclass
class TargetData:
    """A target as submitted: unit None is the whole zone (全区)."""

    year: int
    metric: str
    value: Decimal
    unit_id: int | None = None
    region_id: int | None = None


@dataclass
class CopyResult:
    """What copying a year's targets did."""

    copied: int = 0
    existing: int = 0   # already set in the new year: left as they are
    inactive: int = 0   # of a unit or region deactivated since: not copied


def _snapshot(target: Target) -> dict[str, str]:
    """A target as stored data text for the history (not translated)."""
    label, unit_label = TARGET_METRICS.get(target.metric, (target.metric, ""))
    return {"year": str(target.year), "unit": target.unit.name if target.unit else ZONE,
            "metric": label, "region": target.region.name if target.region else "",
            "value": f"{format_number(target.value)} {unit_label}".strip()}


def _describe(target: Target) -> str:
    """One line naming a target: 2025年 全区 来源地新签约项目（韩国） 5 个."""
    s = _snapshot(target)
    region = f"（{s['region']}）" if s["region"] else ""
    return f"{s['year']}年 {s['unit']} {s['metric']}{region} {s['value']}"


def _duplicate(data: TargetData, unit: Unit | None, region: Region | None) -> RuleError:
    params = {"year": str(data.year), "unit": unit.name if unit else ZONE,
              "metric": TARGET_METRICS[data.metric][0]}
    if region is not None:
        return RuleError("metric", N_("指标：%(year)s年%(unit)s的「%(metric)s」（%(region)s）"
                                      "任务已存在，请修改原有任务"),
                         {**params, "region": region.name})
    return RuleError("metric", N_("指标：%(year)s年%(unit)s的「%(metric)s」任务已存在，"
                                  "请修改原有任务"), params)


def _check(target: Target | None, data: TargetData) -> tuple[Unit | None, Region | None]:
    """Return the target's unit and region, or raise RulesBroken with every reason."""
    errors: list[RuleError] = []
    if not MIN_YEAR <= data.year <= MAX_YEAR:
        errors.append(RuleError("year", N_("年度：应在 %(min)s 到 %(max)s 之间"),
                                {"min": str(MIN_YEAR), "max": str(MAX_YEAR)}))
    if data.metric not in TARGET_METRICS:
        errors.append(RuleError("metric", N_("指标：无效的选择")))
    unit = db.session.get(Unit, data.unit_id) if data.unit_id else None
    if data.unit_id and unit is None:
        errors.append(RuleError("unit_id", N_("责任单位：无效的选择")))
    region = db.session.get(Region, data.region_id) if data.region_id else None
    if data.region_id and region is None:
        errors.append(RuleError("region_id", N_("来源地：无效的选择")))
    label = TARGET_METRICS.get(data.metric, ("", ""))[0]
    if data.metric == REGION_METRIC and not data.region_id:
        errors.append(RuleError("region_id", N_("来源地：「%(metric)s」必须选择来源地"),
                                {"metric": label}))
    elif data.metric in TARGET_METRICS and data.metric != REGION_METRIC and data.region_id:
        errors.append(RuleError("region_id", N_("来源地：只有「%(metric)s」需要选择来源地，"
                                                "「%(other)s」不分来源地"),
                                {"metric": TARGET_METRICS[REGION_METRIC][0], "other": label}))
    value = data.value
    if value is None or not value.is_finite():
        errors.append(RuleError("value", N_("目标值：不是有效的数字")))
    elif value <= 0:
        errors.append(RuleError("value", N_("目标值：必须大于 0")))
    elif value >= MAX_VALUE:
        errors.append(RuleError("value", N_("目标值：数值过大")))
    elif value != value.quantize(Decimal("0.01")):
        errors.append(RuleError("value", N_("目标值：最多两位小数")))
    elif data.metric in COUNTED_METRICS and value != value.to_integral_value():
        errors.append(RuleError("value", N_("目标值：「%(metric)s」以个计，必须是整数"),
                                {"metric": label}))
    if not errors:
        other = find_target(data.year, data.metric, data.unit_id, data.region_id)
        if other is not None and other is not target:
            errors.append(_duplicate(data, unit, region))
    if errors:
        raise RulesBroken(errors)
    return unit, region


def save_target(target: Target | None, data: TargetData, user: User | None) -> Target:
    """Create (target None) or change an annual target; one per year, metric, unit and
    region, 全区 included. Every changed field goes to the history."""
    unit, region = _check(target, data)
    before = _snapshot(target) if target is not None else None
    try:
        # A savepoint: if someone saved the same key meanwhile, the unique index refuses
        # it and only this step is undone, reported like the check above.
        with db.session.begin_nested():
            if target is None:
                target = Target()
                db.session.add(target)
            target.year, target.metric, target.value = data.year, data.metric, data.value
            target.unit, target.region = unit, region
            target.updated_by_id = user.id if user else None
    except IntegrityError:
        raise RulesBroken([_duplicate(data, unit, region)]) from None
    if before is None:
        record_change("target", target.id, "created", "", _describe(target), user)
    else:
        record_diff("target", target.id, before, _snapshot(target), user)
    db.session.flush()
    return target


def delete_target(target: Target, user: User | None) -> None:
    """Remove a target; the history keeps what it was."""
    record_change("target", target.id, "deleted", _describe(target), "", user)
    db.session.delete(target)
    db.session.flush()


def copy_targets(year: int, user: User | None) -> CopyResult:
    """Copy the previous year's targets into ``year``. Targets already set in ``year``
    are left as they are; those of a unit or region deactivated since are not copied."""
    result = CopyResult()
    source = db.session.scalars(
        select(Target).where(Target.year == year - 1)
        .options(joinedload(Target.unit), joinedload(Target.region))
        .order_by(Target.id)).all()
    taken = set(db.session.execute(select(Target.metric, Target.unit_id, Target.region_id)
                                   .where(Target.year == year)).tuples())
    pairs = []
    try:
        with db.session.begin_nested():
            for old in source:
                if (old.metric, old.unit_id, old.region_id) in taken:
                    result.existing += 1
                elif (old.unit and not old.unit.active) or (old.region and not old.region.active):
                    result.inactive += 1
                else:
                    new = Target(year=year, metric=old.metric, unit=old.unit, region=old.region,
                                 value=old.value, updated_by_id=user.id if user else None)
                    db.session.add(new)
                    pairs.append((old, new))
    except IntegrityError:
        message = N_("年度：%(year)s年的任务刚被他人修改，请刷新页面后重试")
        raise RulesBroken([RuleError("year", message, {"year": str(year)})]) from None
    for old, new in pairs:
        record_change("target", new.id, "copied", _describe(old), _describe(new), user)
    result.copied = len(pairs)
    db.session.flush()
    return result
