"""Queries for the pipeline board: per stage, the count and amounts of the live projects
that the list's filters select, and the cards shown in each column, longest waiting
first — a fixed number of queries however many projects there are."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, case, select, union_all
from sqlalchemy.orm import selectinload

from crm import lifecycle
from crm.clock import local_date
from crm.dashboard import cube
from crm.dashboard.queries import Totals, amount_columns, pipeline
from crm.extensions import db
from crm.models import Project
from crm.projects.queries import (ProjectFilters, filtered_ids_stmt, milestone_col,
                                  stalled_state)
from crm.reference.queries import stalled_thresholds

CARDS_PER_COLUMN = 30  # the rest of a column is one click away on the project list


@dataclass
class Card:
    """A project on the board with how long it has waited in its stage."""

    project: Project
    days: int | None        # days in the current stage; None when its date is unknown
    level: str | None       # "yellow" / "red" when stalled (lifecycle.stalled_level)


@dataclass
class Column:
    """One stage: its totals over every matching project and the cards shown."""

    stage: str
    count: int = 0
    cny_wan: Decimal = Decimal(0)
    usd_wan: Decimal = Decimal(0)
    cards: list[Card] = field(default_factory=list)


def board_filters(filters: ProjectFilters) -> ProjectFilters:
    """The list's filters as the board applies them: every column is a stage, and the
    board is today's pipeline (a past day's pipeline is the dashboard's)."""
    return replace(filters, stage=None, as_of=None)


def live_ids_stmt(filters: ProjectFilters) -> Select:
    """SELECT the ids of the projects ``filters`` select that are in the pipeline
    (not dropped): the WHERE part of every board query."""
    return filtered_ids_stmt(filters).where(Project.status != lifecycle.DROPPED)


def column_totals_stmt(live: Select) -> Select:
    """Per stage: the number of ``live``'s projects and their amounts (the dashboard's
    ``amount_columns``: CNY 万元, USD 万美元, …)."""
    # The same FROM and WHERE as the list (not ``id IN (…)``) so the stage index applies.
    return (live.with_only_columns(Project.stage, *amount_columns())
            .group_by(Project.stage))


# Milestone dates lie in 1900–2999 (lifecycle.parse_partial_date), so "on or after
# 1900" means "has a date"; written as a range, it lets a stage's top cards walk the
# milestone's index in order and stop at the limit instead of sorting the whole stage.
_ANY_DATE = date(1900, 1, 1)


def _longest_waiting_stmt(live: Select, stage: str, limit: int) -> Select:
    """SELECT the ids of ``live``'s ``limit`` projects longest in ``stage``."""
    if stage == lifecycle.LEAD:
        # A lead's time in the stage is its age, and ids grow with creation: oldest
        # first is id order, which the (stage, status, id) index already holds.
        return live.where(Project.stage == stage).order_by(Project.id).limit(limit)
    col = milestone_col(stage)
    # A project past ``lead`` always has its stage's date (the gate asks for it).
    return (live.where(Project.stage == stage, col >= _ANY_DATE)
            .order_by(col, Project.id).limit(limit))


def cards_stmt(live: Select, limit: int = CARDS_PER_COLUMN) -> Select:
    """``live``'s projects shown on the board: the ``limit`` longest waiting of each
    stage (earliest milestone; for leads, the oldest), in stage order, with what a card
    shows."""
    # One LIMIT per stage, each walking an index: the board stays cheap at 100,000
    # projects, where numbering every live project with a window function would not.
    shown = union_all(*[select(_longest_waiting_stmt(live, s, limit).subquery().c.id)
                        for s in lifecycle.STAGES]).subquery()
    stage_order = case({s: i for i, s in enumerate(lifecycle.STAGES)}, value=Project.stage)
    since = case(*[(Project.stage == s, milestone_col(s)) for s in lifecycle.STAGES[1:]])
    return (select(Project).join(shown, shown.c.id == Project.id)
            .options(selectinload(Project.company), selectinload(Project.unit),
                     selectinload(Project.regions))
            .order_by(stage_order, since, Project.id))


def board_columns(filters: ProjectFilters, day: date, thresholds=None) -> list[Column]:
    """The board on ``day``: a column per stage of the live projects ``filters`` select,
    with totals and the longest-waiting cards, each with its days in the stage and its
    stalled level (a lead's from its latest visit or its creation, as on the home page)."""
    thresholds = thresholds or stalled_thresholds()
    live = live_ids_stmt(filters)
    columns = {s: Column(s) for s in lifecycle.STAGES}
    if cube.covers(filters, day):   # the dashboard's live pipeline, from its totals
        totals = pipeline(filters, day).by_stage().items()
    else:
        totals = ((row[0], Totals.from_row(row[1:]))
                  for row in db.session.execute(column_totals_stmt(live)))
    for s, t in totals:
        columns[s].count, columns[s].cny_wan, columns[s].usd_wan = t.count, t.cny_wan, t.usd_wan
    projects = db.session.scalars(cards_stmt(live)).all()
    for project in projects:
        level, since = stalled_state(project, day, thresholds)
        # A lead's time in its stage is its age (its stalled level counts from its
        # latest visit).
        if project.stage == lifecycle.LEAD:
            since = local_date(project.created_at)
        days = (day - since).days if since else None
        columns[project.stage].cards.append(Card(project, days, level))
    return list(columns.values())
