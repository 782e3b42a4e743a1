"""Changes to reference data and settings (add and flush, never commit)."""
from decimal import Decimal

from flask import g
from sqlalchemy import func, select

from crm.dashboard import cube
from crm.errors import RulesBroken
from crm.extensions import db
from crm.lifecycle import N_, STALLED_LABELS, RuleError
from crm.models import USD, Project, Region, Setting, project_region
from crm.reference.queries import (USD_RATE_KEY, region_with_descendants,
                                   stalled_threshold_key, usd_rate)


def save_reference_item(model, item, name: str, sort_order: int | None, active: bool,
                        parent_id: int | None = None):
    """Create (item None) or update a unit, industry or region; names stay unique."""
    name = name.strip()
    errors = []
    clash = db.session.scalar(select(func.count()).select_from(model).where(
        model.name == name, model.id != (item.id if item else 0)))
    if clash:
        errors.append(RuleError("name", N_("名称：已存在")))
    if model is Region and parent_id:
        if db.session.get(Region, parent_id) is None:
            errors.append(RuleError("parent_id", N_("上级分组：无效的选择")))
        elif item is not None and parent_id in region_with_descendants(item.id):
            errors.append(RuleError("parent_id", N_("上级分组：不能是自身或其下级")))
    if errors:
        raise RulesBroken(errors)
    if item is None:
        item = model()
        db.session.add(item)
    item.name, item.sort_order, item.active = name, sort_order or 0, active
    moved = []
    if model is Region and item.id is not None and item.parent_id != (parent_id or None):
        # The projects tagged with it or below now count under other groups (the row
        # locked first: see crm/dashboard/cube.py).
        db.session.execute(select(Region.id).where(Region.id == item.id).with_for_update())
        moved = db.session.scalars(select(project_region.c.project_id).distinct().where(
            project_region.c.region_id.in_(region_with_descendants(item.id)))).all()
    with cube.recounted(db.session.connection(), moved):
        if model is Region:
            item.parent_id = parent_id or None
        db.session.flush()
    return item


def _set(key: str, value: str) -> None:
    setting = db.session.get(Setting, key)
    if setting is None:
        setting = Setting(key=key, value="")
        db.session.add(setting)
    setting.value = value


def set_usd_rate(rate: Decimal) -> None:
    """Store the USD→CNY rate."""
    # Which USD projects count as ≥ 10亿元 may change (the row locked first: see
    # crm/dashboard/cube.py).
    db.session.execute(select(Setting.key).where(Setting.key == USD_RATE_KEY)
                       .with_for_update())
    usd = db.session.scalars(select(Project.id).where(
        Project.investment_currency == USD, Project.investment_amount.is_not(None))
    ).all() if rate != usd_rate() else []
    with cube.recounted(db.session.connection(), usd):
        _set(USD_RATE_KEY, str(rate))
        db.session.flush()
    g.pop("usd_rate", None)  # this request's cached rate (reference.queries.usd_rate)


def set_stalled_thresholds(thresholds: dict[str, tuple[int, int]]) -> None:
    """Store the stalled thresholds: stage → (yellow days, red days), yellow < red."""
    errors = [RuleError(f"{stage}_red", N_("%(kind)s：红灯天数必须大于黄灯天数"),
                        {"kind": STALLED_LABELS[stage]})
              for stage, (yellow, red) in thresholds.items() if not 0 < yellow < red]
    if errors:
        raise RulesBroken(errors)
    for stage, (yellow, red) in thresholds.items():
        _set(stalled_threshold_key(stage, "yellow"), str(yellow))
        _set(stalled_threshold_key(stage, "red"), str(red))
    db.session.flush()
    g.pop("stalled_thresholds", None)
