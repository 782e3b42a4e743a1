"""Queries over annual targets (招商任务); the dashboard reads targets through these."""
from decimal import Decimal

from sqlalchemy import Select, case, select
from sqlalchemy.orm import contains_eager, joinedload

from crm.extensions import db
from crm.models import TARGET_METRICS, Region, Target, Unit

# Metrics in TARGET_METRICS order, sorted in SQL; an unknown key goes last.
_METRIC_ORDER = case({m: i for i, m in enumerate(TARGET_METRICS)}, value=Target.metric,
                     else_=len(TARGET_METRICS))


def _key(year: int, metric: str, unit_id: int | None, region_id: int | None) -> list:
    """WHERE terms for one target's key; None means 全区 / no region (IS NULL)."""
    return [Target.year == year, Target.metric == metric,
            Target.unit_id.is_(None) if unit_id is None else Target.unit_id == unit_id,
            Target.region_id.is_(None) if region_id is None else Target.region_id == region_id]


def targets_stmt(year: int, unit_id: int | None = None) -> Select:
    """A year's targets (all units when ``unit_id`` is None) in display order: 全区 first,
    then units in their order; within each, metrics in TARGET_METRICS order."""
    stmt = (select(Target).outerjoin(Target.unit).outerjoin(Target.region)
            .options(contains_eager(Target.unit), contains_eager(Target.region),
                     joinedload(Target.updated_by))
            .where(Target.year == year)
            .order_by(Target.unit_id.is_not(None), Unit.sort_order, Unit.id, _METRIC_ORDER,
                      Region.sort_order, Region.id))
    if unit_id is not None:
        stmt = stmt.where(Target.unit_id == unit_id)
    return stmt


def targets_for(year: int, unit_id: int | None = None) -> list[Target]:
    """A year's Target rows with unit, region and editor loaded (all units for None)."""
    return list(db.session.scalars(targets_stmt(year, unit_id)))


def find_target(year: int, metric: str, unit_id: int | None,
                region_id: int | None = None) -> Target | None:
    """The target with this key (unit None = 全区), or None."""
    return db.session.scalar(select(Target).where(*_key(year, metric, unit_id, region_id)))


def target_value(year: int, metric: str, unit_id: int | None,
                 region_id: int | None = None) -> Decimal | None:
    """The target value set for a metric of a year and unit (None = 全区) and, for
    source-region signings, region; None when no target is set."""
    return db.session.scalar(select(Target.value).where(
        *_key(year, metric, unit_id, region_id)))
