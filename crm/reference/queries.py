"""Queries over reference data and settings."""
from decimal import Decimal

from flask import g, has_request_context
from sqlalchemy import select

from crm.extensions import db
from crm.lifecycle import DEFAULT_STALLED_THRESHOLDS
from crm.models import Industry, Region, Setting, Unit

USD_RATE_KEY = "usd_cny_rate"
DEFAULT_USD_RATE = Decimal("7.1")


def units_stmt(active_only: bool = True):
    """Units in display order."""
    stmt = select(Unit).order_by(Unit.sort_order, Unit.id)
    return stmt.where(Unit.active.is_(True)) if active_only else stmt


def industries_stmt(active_only: bool = True):
    """Industries in display order."""
    stmt = select(Industry).order_by(Industry.sort_order, Industry.id)
    return stmt.where(Industry.active.is_(True)) if active_only else stmt


def regions_stmt(active_only: bool = True):
    """Regions in display order (groups and their members)."""
    stmt = select(Region).order_by(Region.sort_order, Region.id)
    return stmt.where(Region.active.is_(True)) if active_only else stmt


def region_choices() -> list[tuple[int, str]]:
    """Active regions as (id, label), each group followed by its members, indented by
    depth (国内省外 › 长三角 › 上海) so a picker shows the roll-up."""
    regions = db.session.scalars(regions_stmt()).all()
    children: dict[int | None, list[Region]] = {}
    for r in regions:
        children.setdefault(r.parent_id, []).append(r)
    known = {r.id for r in regions}
    out: list[tuple[int, str]] = []

    def walk(parent_id, depth):
        for r in children.get(parent_id, []):
            out.append((r.id, "\u3000" * depth + r.name))
            walk(r.id, depth + 1)

    walk(None, 0)
    # Regions whose group is inactive still appear, at the top level.
    for r in regions:
        if r.parent_id is not None and r.parent_id not in known:
            out.append((r.id, r.name))
            walk(r.id, 1)
    return out


def region_children() -> dict[int | None, list[int]]:
    """Every region's children's ids, by parent id (None: the top level)."""
    children: dict[int | None, list[int]] = {}
    for rid, parent in db.session.execute(select(Region.id, Region.parent_id)):
        children.setdefault(parent, []).append(rid)
    return children


def region_with_descendants(region_id: int,
                            children: dict[int | None, list[int]] | None = None) -> list[int]:
    """Return ``region_id`` and the ids of every region that rolls up into it."""
    children = region_children() if children is None else children
    out, todo = [], [region_id]
    while todo:
        rid = todo.pop()
        if rid in out:
            continue
        out.append(rid)
        todo.extend(children.get(rid, []))
    return out


def _per_request(name: str, load):
    """``load()``, remembered for the request: a dashboard reads settings in dozens of
    figures (services that change a setting forget it: ``g.pop(name)``)."""
    if not has_request_context():
        return load()
    if name not in g:
        setattr(g, name, load())
    return g.get(name)


def usd_rate() -> Decimal:
    """Return the admin-set USD→CNY rate used where one combined figure is shown."""
    def load():
        value = db.session.scalar(select(Setting.value).where(Setting.key == USD_RATE_KEY))
        return Decimal(value) if value else DEFAULT_USD_RATE
    return _per_request("usd_rate", load)


def stalled_threshold_key(stage: str, level: str) -> str:
    """The setting that holds one stalled threshold (days)."""
    return f"stalled_{stage}_{level}"


def stalled_thresholds() -> dict[str, tuple[int, int]]:
    """The admin-set stalled thresholds: stage → (yellow days, red days); the DESIGN.md
    defaults where none is set."""
    def load():
        stored = dict(db.session.execute(select(Setting.key, Setting.value).where(
            Setting.key.startswith("stalled_", autoescape=True))).all())
        out = {}
        for stage, (yellow, red) in DEFAULT_STALLED_THRESHOLDS.items():
            out[stage] = (int(stored.get(stalled_threshold_key(stage, "yellow"), yellow)),
                          int(stored.get(stalled_threshold_key(stage, "red"), red)))
        return out
    return _per_request("stalled_thresholds", load)
