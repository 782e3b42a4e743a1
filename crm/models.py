"""All database tables: users, reference data (units, regions, industries), companies,
projects with their milestones, and the stage and change history.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, DateTime,
                        ForeignKey, Index, Integer, LargeBinary, Numeric, String, Table, Text,
                        false, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from crm import lifecycle
from crm.clock import utcnow
from crm.extensions import db
from crm.lifecycle import N_, PartialDate
from crm.text import normalize

ADMIN, LEADER, OFFICER = "admin", "leader", "officer"
ROLES = (ADMIN, LEADER, OFFICER)
ROLE_LABELS = {ADMIN: N_("管理员"), LEADER: N_("领导"), OFFICER: N_("招商专员")}

CNY, USD = "CNY", "USD"
CURRENCIES = (CNY, USD)
# Amounts are stored in 万 of their currency; 10亿元 = 100,000 万元.
MAJOR_PROJECT_WAN = Decimal(100000)
WAN_PER_YI = Decimal(10000)     # 1 亿 = 10,000 万
# The longest 建设内容, 备注 or issue text a form or a ledger import takes.
TEXT_MAX = 2000


class Unit(db.Model):
    """A responsible unit (责任单位): a department or park."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self):
        return self.name


class Region(db.Model):
    """A source region (来源地); ``parent`` is its roll-up group (上海 → 长三角)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    def __str__(self):
        return self.name


class Industry(db.Model):
    """An industry or industrial chain (产业)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self):
        return self.name


class Setting(db.Model):
    """An admin-set value such as the USD→CNY rate used where one figure is shown."""

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class User(UserMixin, db.Model):
    """A person who signs in: admin, leader or officer, usually of one unit."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Part of every session's user id (get_id): a new one ends all the user's sessions
    # (sign-out, a new password, disabled by an administrator).
    session_token: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Set when an administrator issued the password: the user must choose their own
    # before anything else (crm/auth/routes.password_change_first).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())

    unit: Mapped[Unit | None] = relationship()

    @property
    def is_active(self):  # Flask-Login: a disabled user cannot sign in
        return self.active

    def get_id(self) -> str:
        """Flask-Login's id in the session: "id-token" (crm/auth/routes.load_user)."""
        return f"{self.id}-{self.session_token}"

    def end_sessions(self) -> None:
        """Make every session of this user invalid from its next request."""
        self.session_token = secrets.token_hex(16)

    def set_password(self, password: str) -> None:
        """Store a salted hash of ``password``."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def __str__(self):
        return self.display_name


class LoginFailure(db.Model):
    """A failed sign-in: which account name was tried, from where, when (the login
    throttle counts them; a success clears the account's from that address)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_account", "username_key", "address", "failed_at"),
                      Index("ix_login_failure_address", "address", "failed_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username_key: Mapped[str] = mapped_column(String(50))
    address: Mapped[str] = mapped_column(String(45))
    failed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


COMPANY_NATURES = ("central_soe", "local_soe", "private", "foreign", "hmt", "joint")
COMPANY_NATURE_LABELS = {
    "central_soe": N_("央企"), "local_soe": N_("国企"), "private": N_("民企"),
    "foreign": N_("外资"), "hmt": N_("港澳台资"), "joint": N_("合资"),
}


class Company(db.Model):
    """An investor (投资方 / 客商). ``name_key`` is the normalised name, unique; the
    unified social credit code (统一社会信用代码) is unique when present."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    nature: Mapped[str] = mapped_column(String(12), default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    hq_city: Mapped[str] = mapped_column(String(50), default="")
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industry.id"), index=True)
    website: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    region: Mapped[Region | None] = relationship()
    industry: Mapped[Industry | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="company", order_by="Contact.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def __str__(self):
        return self.name


class Contact(db.Model):
    """A person at an investor company."""

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(50), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    email: Mapped[str] = mapped_column(String(120), default="")

    company: Mapped[Company] = relationship(back_populates="contacts")

    def __str__(self):
        return self.name


project_region = Table(
    "project_region", db.metadata,
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", ForeignKey("region.id"), primary_key=True),
    Index("ix_project_region_region_id", "region_id", "project_id"),
)


def _name_key(context) -> str:
    """A project row inserted without the ORM: the key of its name."""
    return normalize(context.get_current_parameters().get("name"))


class Project(db.Model):
    """An investment project and where it stands in its lifecycle."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name's matching form (crm.text.normalize), kept with the name: a ledger row
    # finds its project by it (an index lookup instead of normalising every name).
    name_key: Mapped[str] = mapped_column(Text, default=_name_key, index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id"), index=True)
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industry.id"), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    capacity_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    capacity_unit: Mapped[str] = mapped_column(String(20), default="")
    # Total investment in 万 of its currency (万元 or 万美元), never a float.
    investment_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    investment_currency: Mapped[str] = mapped_column(String(3), default=CNY)
    land_area: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    leader_name: Mapped[str] = mapped_column(String(50), default="")
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    stage: Mapped[str] = mapped_column(String(12), default=lifecycle.LEAD)
    status: Mapped[str] = mapped_column(String(10), default=lifecycle.ACTIVE)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_on: Mapped[date | None] = mapped_column(Date)
    signed_on: Mapped[date | None] = mapped_column(Date)
    signed_on_precision: Mapped[str | None] = mapped_column(String(5))
    started_on: Mapped[date | None] = mapped_column(Date)
    started_on_precision: Mapped[str | None] = mapped_column(String(5))
    producing_on: Mapped[date | None] = mapped_column(Date)
    producing_on_precision: Mapped[str | None] = mapped_column(String(5))
    partial_production: Mapped[bool] = mapped_column(Boolean, default=False)
    at_capacity_on: Mapped[date | None] = mapped_column(Date)
    at_capacity_on_precision: Mapped[str | None] = mapped_column(String(5))
    notes: Mapped[str] = mapped_column(Text, default="")
    # The latest visit's date (crm/visits/services.py keeps it): a lead is stale when
    # neither it nor the creation is recent.
    last_visit_on: Mapped[date | None] = mapped_column(Date)
    # Normalised name and investor for the text search (crm/projects/search.py).
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow,
                                                 index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    company: Mapped[Company | None] = relationship()
    industry: Mapped[Industry | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    officer: Mapped[User | None] = relationship(foreign_keys=[officer_id])
    regions: Mapped[list[Region]] = relationship(secondary=project_region,
                                                 order_by=Region.sort_order)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_project_stage_status", "stage", "status", "id"),
        # The project list (crm/projects/queries.py): a unit's projects at a stage, newest
        # first, counted and paged without reading the rows ...
        Index("ix_project_unit_id_stage", "unit_id", "stage", "updated_at"),
        # ... and what its text search reads (LIKE '%词%' can use no index): this narrow
        # index instead of the wide rows. It also orders the list by name.
        Index("ix_project_name", "name", "code", "company_id"),
        # The dashboard (crm/dashboard/queries.py) at 100,000 projects: the live pipeline
        # on a day is one scan of this narrow index instead of the wide rows, grouped in
        # its order by unit and industry ...
        Index("ix_project_pipeline", "unit_id", "industry_id", "stage", "status",
              "status_on", "created_at", "signed_on", "started_on", "producing_on",
              "at_capacity_on", "investment_currency", "investment_amount"),
        # ... each milestone's range (new signings, starts … in a month or year; projects
        # waiting at a stage since before a day) with what its figures need ...
        *[Index(f"ix_project_{m}_cover", m, "stage", "status", "unit_id", "industry_id",
                "investment_currency", "investment_amount")
          for m in lifecycle.MILESTONE_FIELDS.values()],
        # ... leads by age (the stale ones, on a past day and today) ...
        Index("ix_project_stage_created", "stage", "status", "created_at", "last_visit_on",
              "unit_id", "industry_id", "status_on",
              *lifecycle.MILESTONE_FIELDS.values()),
        # ... and the largest projects, walked from the top per currency.
        Index("ix_project_currency_amount", "investment_currency", "investment_amount"),
    )

    def milestone(self, stage: str) -> PartialDate | None:
        """Return the milestone date of ``stage`` with its precision, or None."""
        attr = lifecycle.MILESTONE_FIELDS[stage]
        value = getattr(self, attr)
        if value is None:
            return None
        return PartialDate(value, getattr(self, attr + "_precision") or lifecycle.DAY)

    def set_milestone(self, stage: str, value: PartialDate | None) -> None:
        """Set (or clear, with None) the milestone date of ``stage``."""
        attr = lifecycle.MILESTONE_FIELDS[stage]
        setattr(self, attr, value.value if value else None)
        setattr(self, attr + "_precision", value.precision if value else None)

    @property
    def milestones(self) -> dict[str, PartialDate | None]:
        """All milestone dates by stage."""
        return {s: self.milestone(s) for s in lifecycle.MILESTONE_FIELDS}

    @validates("name")
    def _keep_name_key(self, _attr, name):
        self.name_key = normalize(name)
        return name

    def __str__(self):
        return self.name


class PipelineCell(db.Model):
    """Running totals of the projects, kept by crm/dashboard/cube.py in the transaction of
    every project write, so that the dashboard sums a few hundred cells instead of
    scanning every project. A cell is (kind, region, month, unit, industry, stage):

    - "now": the live pipeline (month 0); "live": its change in a month (a project
      entering or leaving a stage, or dropped), so the pipeline at a past month end is
      "now" minus the changes after it; "reached": projects whose stage's milestone falls
      in the month (new signings, starts …, dropped ones included); "stay" and
      "stay_live": the same as "now" and "live" for the active projects at a signed,
      started or producing stage, by the month that stage began (``since``: how long
      they have been waiting, for the stalled counts);
    - region 0 holds every project, any other region the projects tagged with it or a
      region under it (each once); unit or industry 0 means none, and -1 (both) the
      roll-up over every unit and industry.

    Amounts are whole 元 / 美元 (exact integer sums); ``major`` counts projects of 10亿元
    or more at the USD rate the cells were built with (a new rate rebuilds them)."""

    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)   # YYYYMM, 0 for "now"
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    industry_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(12), primary_key=True)
    since: Mapped[int] = mapped_column(Integer, primary_key=True)   # YYYYMM, "stay" only
    n: Mapped[int] = mapped_column(Integer, default=0)
    cny: Mapped[int] = mapped_column(BigInteger, default=0)
    usd: Mapped[int] = mapped_column(BigInteger, default=0)
    major: Mapped[int] = mapped_column(Integer, default=0)

    # The rows lie in key order: a kind and region's months are one contiguous range.
    __table_args__ = {"sqlite_with_rowid": False}


class ProjectToken(db.Model):
    """One bigram of a project's search text: the text-search index."""

    token: Mapped[str] = mapped_column(String(8), primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True, index=True)

    # SQLite stores the rows in token order, so a lookup reads one contiguous range.
    __table_args__ = {"sqlite_with_rowid": False}


VISIT_KINDS = ("visit", "reception", "phone", "video", "expo", "other")
VISIT_KIND_LABELS = {
    "visit": N_("上门拜访"), "reception": N_("来访接待"), "phone": N_("电话"),
    "video": N_("视频"), "expo": N_("展会推介"), "other": N_("其他"),
}

visit_project = Table(
    "visit_project", db.metadata,
    Column("visit_id", ForeignKey("visit.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_visit_project_project_id", "project_id", "visit_id"),
)
visit_participant = Table(
    "visit_participant", db.metadata,
    Column("visit_id", ForeignKey("visit.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id"), primary_key=True),
    # One user's participations (follow-ups on the home page, the officer filter).
    Index("ix_visit_participant_user_id", "user_id", "visit_id"),
)


class Visit(db.Model):
    """A visit, call or reception of an investor (走访记录), with its follow-up and,
    for a trip outside the zone (外出招商), the trip's destination and dates."""

    id: Mapped[int] = mapped_column(primary_key=True)
    visited_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    city: Mapped[str] = mapped_column(String(50), default="")
    led_by_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    leader_name: Mapped[str] = mapped_column(String(50), default="")
    people_met: Mapped[str] = mapped_column(String(500), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    next_steps: Mapped[str] = mapped_column(Text, default="")
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    follow_up_done_on: Mapped[date | None] = mapped_column(Date)
    trip_destination: Mapped[str] = mapped_column(String(100), default="")
    trip_start: Mapped[date | None] = mapped_column(Date)
    trip_end: Mapped[date | None] = mapped_column(Date)
    # A client-generated key: a double submit of one form stores one visit.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    company: Mapped[Company] = relationship()
    unit: Mapped[Unit | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    projects: Mapped[list[Project]] = relationship(secondary=visit_project,
                                                   order_by=Project.id)
    participants: Mapped[list[User]] = relationship(secondary=visit_participant,
                                                    order_by=User.id)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_visit_visited_on", "visited_on", "id"),
        Index("ix_visit_unit_id_visited_on", "unit_id", "visited_on"),
        Index("ix_visit_company_id_visited_on", "company_id", "visited_on"),
        Index("ix_visit_follow_up", "follow_up_on", "follow_up_done_on"),
        # Measured by `make bench` at 1,000,000 visits: a unit's visits of one kind in a
        # date range (the filtered list), and the trips overlapping a month.
        Index("ix_visit_unit_id_kind", "unit_id", "kind", "visited_on"),
        Index("ix_visit_trip", "trip_start", "trip_end"),
    )


class CoordinationIssue(db.Model):
    """A blocker that needs another department (需协调事项), tracked until closed (销号)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"),
                                            index=True)
    description: Mapped[str] = mapped_column(Text)
    raised_on: Mapped[date] = mapped_column(Date)
    acting_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    resolution: Mapped[str] = mapped_column(Text, default="")
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    project: Mapped[Project] = relationship()
    acting_unit: Mapped[Unit | None] = relationship()
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __table_args__ = (Index("ix_coordination_issue_open", "closed_on", "raised_on"),)

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class Instruction(db.Model):
    """A leader's instruction on a project (领导批示), shown to the project's officer and
    unit until they acknowledge it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"),
                                            index=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    project: Mapped[Project] = relationship()
    leader: Mapped[User | None] = relationship(foreign_keys=[leader_id])

    # The home page looks for unread instructions first.
    __table_args__ = (Index("ix_instruction_unread", "acknowledged_at", "created_at"),)
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])


class StageChange(db.Model):
    """One stage move of a project: who, when, from, to, milestone date and note."""

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"),
                                            index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    from_stage: Mapped[str] = mapped_column(String(12))
    to_stage: Mapped[str] = mapped_column(String(12))
    milestone_on: Mapped[date | None] = mapped_column(Date)
    milestone_precision: Mapped[str | None] = mapped_column(String(5))
    note: Mapped[str] = mapped_column(Text, default="")
    correction: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User | None] = relationship()
    project: Mapped[Project] = relationship()

    @property
    def milestone(self) -> PartialDate | None:
        """The milestone date recorded with the move."""
        if self.milestone_on is None:
            return None
        return PartialDate(self.milestone_on, self.milestone_precision or lifecycle.DAY)


class Change(db.Model):
    """One changed field of a record (field, old → new, who, when): the change history.

    ``entity``/``entity_id`` name the record; ``project_id`` ties it to a project page.
    """

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Where the change came from when not typed on a page: "台账导入 项目台账.xlsx".
    source: Mapped[str] = mapped_column(String(120), default="", server_default="")

    user: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_change_log_entity", "entity", "entity_id"),)


# Annual target metrics (招商任务) in display order: key → (label, unit of the value).
TARGET_METRICS = {
    "signings": (N_("新签约项目"), N_("个")),
    "signed_amount": (N_("签约总投资"), N_("亿元")),
    "major_signings": (N_("新签约10亿元以上项目"), N_("个")),
    "region_signings": (N_("来源地新签约项目"), N_("个")),
    "starts": (N_("新开工项目"), N_("个")),
    "producing": (N_("新投产项目"), N_("个")),
    "at_capacity": (N_("新达产项目"), N_("个")),
}
# The one metric counted per source region (that region and every region under it).
REGION_METRIC = "region_signings"


def _unique_where(name: str, *columns: str, where: str | None = None) -> Index:
    """A unique index over ``columns`` of the rows matching ``where`` (SQLite and
    PostgreSQL alike)."""
    clause = text(where) if where else None
    return Index(name, *columns, unique=True, sqlite_where=clause, postgresql_where=clause)


class Target(db.Model):
    """An annual target (招商任务) for one metric, of one unit or (unit None) the whole
    zone (全区); ``region`` only for source-region signings (e.g. 韩国 or 长三角)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    metric: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    unit: Mapped[Unit | None] = relationship()
    region: Mapped[Region | None] = relationship()
    updated_by: Mapped[User | None] = relationship()

    __table_args__ = (
        # One target per year, metric, unit and region. A unique index lets NULLs (全区,
        # no region) repeat, so each NULL combination has its own partial index; unlike
        # coalesce() expressions, these reflect on SQLite too (autogenerate, batch
        # migrations). Each leads with year: the index for a year's targets.
        _unique_where("ux_target_unit_region", "year", "metric", "unit_id", "region_id"),
        _unique_where("ux_target_unit", "year", "metric", "unit_id",
                      where="region_id IS NULL"),
        _unique_where("ux_target_zone_region", "year", "metric", "region_id",
                      where="unit_id IS NULL"),
        _unique_where("ux_target_zone", "year", "metric",
                      where="unit_id IS NULL AND region_id IS NULL"),
        CheckConstraint("value > 0", name="value_positive"),
        CheckConstraint(f"(metric = '{REGION_METRIC}') = (region_id IS NOT NULL)",
                        name="region_iff_region_metric"),
    )


class ImportJob(db.Model):
    """One upload of a ledger (crm/excel/jobs.py): the file, then its preview and its
    commit, each run in the background with progress the page follows."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    # The file (up to 10 MB): read only by the job's steps, not by the pages and the
    # progress polls that load the job; emptied once imported.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sheet: Mapped[str | None] = mapped_column(String(100))
    confirm_new: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    # queued → checking → ready (the preview) → committing → done; or failed.
    state: Mapped[str] = mapped_column(String(12), default="queued")
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(Text, default="")      # the preview / outcome, JSON
    message: Mapped[str] = mapped_column(Text, default="")     # why it failed
    worker: Mapped[str] = mapped_column(String(100), default="")   # host:pid running it
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)   # heartbeat

    user: Mapped[User | None] = relationship()
