"""Import a ledger: read and check every row against the database (the preview: what
would be created, updated, left unchanged or skipped, and every error), then write the
valid rows through the project services in the caller's one transaction (the commit)."""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from crm import lifecycle
from crm.auth import policy
from crm.clock import today as local_today
from crm.coordination.services import raise_issue
from crm.excel import parse
from crm.excel.columns import ISSUE_SEPARATOR, LEDGER_COLUMNS, PARTIAL_PRODUCTION
from crm.excel.export import open_issue_texts
from crm.excel.reader import ColumnRef, Ledger, SkippedRow, WorkbookError
from crm.errors import RulesBroken
from crm.extensions import db
from crm.history import change_source, record_change
from crm.i18n import rule_message
from crm.lifecycle import N_, PartialDate
from crm.models import (OFFICER, TEXT_MAX, Company, Industry, Project, Region, Unit,
                        User)
from crm.projects.services import (FIELD_LABELS, NewProject, ProjectData, advance_stage,
                                   assign_details, correct_milestones, create_projects,
                                   gate_values, project_data, set_status, snapshot,
                                   update_project)
from crm.reference.services import save_reference_item
from crm.text import normalize

CREATE, UPDATE, UNCHANGED, INVALID, MERGED = (
    "create", "update", "unchanged", "invalid", "merged")
SOURCE = "台账导入"
HOLD_REASON = "台账导入"       # a status set by an import has no reason of its own
# The most characters a cell may hold: the lengths of the columns it goes into
# (crm/models.py), and the form's limit of the long texts (a longer one could not be
# saved from the form again).
_LONG_TEXTS = ("content", "notes")
_MAX_LENGTH = {"name": 200, "company": 200, "leader": 50, **dict.fromkeys(_LONG_TEXTS, TEXT_MAX)}
_HEADERS = {c.key: c.header for c in LEDGER_COLUMNS}
_DATE_KEYS = {f: s for s, f in lifecycle.MILESTONE_FIELDS.items()}
# The new reference records an import may create once confirmed: kind → model, label.
NEW_KINDS = {"regions": (Region, N_("来源地")), "industry": (Industry, N_("产业类别")),
             "unit": (Unit, N_("责任单位"))}


@dataclass
class Problem:
    """An error or warning, where it is (row, column letter, header) and what."""

    message: str
    params: dict = field(default_factory=dict)
    row: int | None = None
    column: str = ""
    header: str = ""

    def text(self) -> str:
        """The message in the user's language, without its position."""
        return gettext(self.message, **{k: gettext(str(v)) if k in ("field", "stage", "kind")
                                        else v for k, v in self.params.items()})

    def where(self) -> str:
        """「第 7 行 H 列「签约时间」」: the position as the preview shows it."""
        if self.row is None:
            return ""
        if not self.column:
            return gettext("第 %(row)s 行", row=self.row)
        return gettext("第 %(row)s 行 %(column)s 列「%(header)s」", row=self.row,
                       column=self.column, header=self.header)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}：{self.text()}" if where else self.text()

    def as_dict(self) -> dict:
        """The JSON form (``ledger import --json``)."""
        return {"row": self.row, "column": self.column, "header": self.header,
                "message": self.text()}


@dataclass
class RowPlan:
    """What the import does with one data row."""

    row: int
    action: str = INVALID
    name: str = ""
    code: str = ""
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # What to write (the commit's input), set by _plan_row.
    pid: int | None = None
    project: Project | None = None
    data: ProjectData | None = None
    stage: str = lifecycle.LEAD
    dates: dict = field(default_factory=dict)
    partial: bool = False
    status: str | None = None
    new_issues: list[str] = field(default_factory=list)
    needs: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class ImportResult:
    """The preview or the outcome of an import."""

    sheet: str = ""
    sheets: list[str] = field(default_factory=list)
    columns: list[ColumnRef] = field(default_factory=list)
    rows: list[RowPlan] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)       # about the whole file
    warnings: list[Problem] = field(default_factory=list)
    new_names: dict[str, list[str]] = field(default_factory=dict)
    committed: bool = False

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def all_errors(self) -> list[Problem]:
        """Every error: the file's, then each row's in row order."""
        return self.errors + [e for r in self.rows for e in r.errors]

    @property
    def all_warnings(self) -> list[Problem]:
        return self.warnings + [w for r in self.rows for w in r.warnings]

    @property
    def skipped_count(self) -> int:
        """Rows holding no project (blank, headings, subtotals, notes) and rows merged
        into an identical earlier row."""
        return len(self.skipped) + self.count(MERGED)

    def summary(self) -> dict:
        """The counts, warnings and errors (the ``--json`` output)."""
        return {"created": self.count(CREATE), "updated": self.count(UPDATE),
                "unchanged": self.count(UNCHANGED), "skipped": self.skipped_count,
                "warnings": [w.as_dict() for w in self.all_warnings],
                "errors": [e.as_dict() for e in self.all_errors]}


class ImportRefused(Exception):
    """The commit found errors (and was not told to skip invalid rows): nothing written."""

    def __init__(self, result: ImportResult):
        super().__init__(f"{len(result.all_errors)} errors")
        self.result = result


# ---------------------------------------------------------------------------- reading


class _Cells:
    """One data row's cells by ledger column key, with the row's problems."""

    def __init__(self, values: tuple, columns: dict[str, list[ColumnRef]], plan: RowPlan,
                 bad: set[str] | None = None):
        self.values, self.columns, self.plan = values, columns, plan
        self.bad: set[str] = set() if bad is None else bad   # keys whose cell was unreadable

    def ref(self, key: str) -> ColumnRef | None:
        refs = self.columns.get(key)
        return refs[0] if refs else None

    def has(self, key: str) -> bool:
        return key in self.columns

    def value(self, key: str):
        ref = self.ref(key)
        return self.values[ref.index] if ref else None

    def problem(self, key: str | None, message: str, params: dict | None = None,
                warning: bool = False) -> None:
        ref = self.ref(key) if key else None
        p = Problem(message, params or {}, self.plan.row, ref.letter if ref else "",
                    ref.header if ref else "")
        (self.plan.warnings if warning else self.plan.errors).append(p)

    def parsed(self, key: str, parser, *args, ref: ColumnRef | None = None):
        """``parser`` applied to the cell; a CellError becomes the row's error."""
        ref = ref or self.ref(key)
        try:
            return parser(self.values[ref.index], *args)
        except parse.CellError as exc:
            self.bad.add(key)
            self.plan.errors.append(Problem(exc.message, dict(exc.params), self.plan.row,
                                            ref.letter, ref.header))
            return None


@dataclass
class _Incoming:
    """A row's values as typed (names not yet resolved); None where a column is
    absent (the project keeps what it has)."""

    code: str | None = None
    name: str = ""
    company: str | None = None
    regions: list[str] | None = None
    industry: str | None = None
    amount: parse.Amount | None = None
    amount_given: bool = False
    content: str | None = None
    progress: parse.Progress | None = None
    status: str | None = None
    dates: dict[str, PartialDate | None] = field(default_factory=dict)
    unit: str | None = None
    leader: str | None = None
    officer: str | None = None
    issues: str | None = None
    notes: str | None = None
    extra_notes: list[str] = field(default_factory=list)

    def signature(self) -> tuple:
        """Everything the row says, to tell an exact duplicate row from a conflicting one."""
        return tuple((k, repr(v)) for k, v in sorted(vars(self).items()))


def _text(cells: _Cells, key: str) -> str | None:
    return parse.parse_text(cells.value(key)) if cells.has(key) else None


def _read_row(cells: _Cells) -> _Incoming:
    """Parse one row's cells, recording each cell's error or warning."""
    inc = _Incoming(code=_text(cells, "code") or None, name=_text(cells, "name") or "",
                    company=_text(cells, "company"), content=_text(cells, "content"),
                    leader=_text(cells, "leader"), officer=_text(cells, "officer"),
                    issues=_text(cells, "issues"), notes=_text(cells, "notes"))
    if cells.has("regions"):
        inc.regions = parse.split_names(cells.value("regions"))
    if cells.has("industry"):
        inc.industry = _text(cells, "industry") or ""
    if cells.has("unit"):
        inc.unit = _text(cells, "unit") or ""
    _read_amount(cells, inc)
    if cells.has("stage"):
        inc.progress = cells.parsed("stage", parse.parse_progress)
    if cells.has("status"):
        inc.status = cells.parsed("status", parse.parse_status)
    for key, stage in _DATE_KEYS.items():
        if not cells.has(key):
            continue
        parsed = cells.parsed(key, parse.parse_date)
        inc.dates[stage] = parsed.value if parsed else None
        if parsed and parsed.warning:
            cells.problem(key, parsed.warning.message, dict(parsed.warning.params), True)
        if parsed and parsed.note:
            inc.extra_notes.append(f"{_HEADERS[key]}：{parsed.note}")
    return inc


def _read_amount(cells: _Cells, inc: _Incoming) -> None:
    """总投资 from one or more amount columns (人民币 / 美元 side by side in some ledgers),
    in the row's 金额单位, else its header's unit."""
    if not cells.has("amount"):
        return
    inc.amount_given = True
    row_unit = None
    if cells.has("amount_unit") and not parse.is_unknown(cells.value("amount_unit")):
        row_unit = parse.parse_text(cells.value("amount_unit"))
        if cells.parsed("amount_unit", parse.parse_unit) is None:
            return
    found = []
    for ref in cells.columns["amount"]:
        amount = cells.parsed("amount", parse.parse_amount, row_unit or ref.unit, ref=ref)
        if amount is not None:
            found.append((ref, amount))
    if len(found) > 1:
        ref = found[1][0]
        cells.plan.errors.append(Problem(N_("总投资：一行只能填写一个金额"), {}, cells.plan.row,
                                         ref.letter, ref.header))
    elif found:
        inc.amount = found[0][1]
        if inc.amount.approximate:
            inc.extra_notes.append(f"{_HEADERS['amount']}：{inc.amount.raw}")


# ---------------------------------------------------------------------------- matching


class _World:
    """What the rows are checked against, loaded once: the projects the file names by
    code or by name (found by their indexed codes and name keys, 500 to a query), and
    the reference lists by name."""

    def __init__(self, codes: set[str], names: set[str]):
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, list[tuple[int, str]]] = {}
        codes, names = sorted(codes), sorted(names)
        for i in range(0, len(codes), 500):
            self.by_code.update((code, pid) for pid, code in db.session.execute(
                select(Project.id, Project.code).where(Project.code.in_(codes[i:i + 500]))))
        for i in range(0, len(names), 500):
            for pid, key, company_key in db.session.execute(
                    select(Project.id, Project.name_key, Company.name_key)
                    .outerjoin(Company, Project.company_id == Company.id)
                    .where(Project.name_key.in_(names[i:i + 500])).order_by(Project.id)):
                self.by_name.setdefault(key, []).append((pid, company_key or ""))
        self.refs: dict[str, dict[str, object]] = {}
        for kind, (model, _label) in NEW_KINDS.items():
            self.refs[kind] = {normalize(o.name): o for o in db.session.scalars(select(model))}
        self.companies = {}
        self.users: dict[str, User | None] = {}
        for user in db.session.scalars(select(User)):
            for key in {normalize(user.display_name), normalize(user.username)}:
                # Two people of one name: ambiguous, never guessed.
                self.users[key] = None if key in self.users else user

    def load_companies(self, names) -> None:
        """Read the investors the rows name, 500 to a query."""
        keys = sorted({normalize(n) for n in names if n} - set(self.companies) - {""})
        for i in range(0, len(keys), 500):
            self.companies.update((c.name_key, c) for c in db.session.scalars(
                select(Company).where(Company.name_key.in_(keys[i:i + 500]))))

    def company(self, name: str) -> Company | SimpleNamespace | None:
        """The investor of this name: known, or a stand-in for a new one (created on
        commit)."""
        key = normalize(name)
        if not key:
            return None
        if key not in self.companies:
            self.companies[key] = SimpleNamespace(id=None, name=name.strip(), name_key=key)
        return self.companies[key]

    def match(self, inc: _Incoming, cells: _Cells) -> int | None:
        """The existing project this row describes: by 项目编号, else by name and
        investor (an ambiguous name is the row's error)."""
        if inc.code:
            if inc.code in self.by_code:
                return self.by_code[inc.code]
            cells.problem("code", N_("项目编号 %(code)s 在系统中不存在，按项目名称和投资方匹配"),
                          {"code": inc.code}, warning=True)
        candidates = self.by_name.get(normalize(inc.name), [])
        company_key = normalize(inc.company or "")
        if company_key:
            exact = [pid for pid, key in candidates if key == company_key]
            if not exact:
                exact = [pid for pid, key in candidates if not key]
        else:
            exact = [pid for pid, _key in candidates]
        if len(exact) > 1:
            cells.problem("name", N_("系统中有多个同名项目，请填写项目编号以区分"))
            return None
        return exact[0] if exact else None


def _load(ids: list[int]) -> dict[int, Project]:
    """The matched projects with what a row is compared with, in few queries."""
    out = {}
    for start in range(0, len(ids), 500):
        out.update((p.id, p) for p in db.session.scalars(
            select(Project).where(Project.id.in_(ids[start:start + 500])).options(
                joinedload(Project.company), joinedload(Project.industry),
                joinedload(Project.unit), joinedload(Project.officer),
                selectinload(Project.regions))).unique())
    return out


# ---------------------------------------------------------------------------- planning


def _resolve(world: _World, cells: _Cells, plan: RowPlan, kind: str, names: list[str],
             confirm_new: bool):
    """Reference records by name; a name not in the list is new: created on commit once
    confirmed, else the row's error."""
    found = []
    for name in names:
        obj = world.refs[kind].get(normalize(name))
        if obj is None:
            model, label = NEW_KINDS[kind]
            plan.needs.setdefault(kind, set()).add(name)
            if not confirm_new:
                cells.problem(kind, N_("%(kind)s「%(name)s」不在系统列表中；确认新增后才能导入"),
                              {"kind": label, "name": name})
            obj = model(name=name)      # detached: for the preview only
        found.append(obj)
    return found


def _plan_row(plan: RowPlan, inc: _Incoming, cells: _Cells, project: Project | None,
              issues: list[str], world: _World, user: User | None, confirm_new: bool,
              today: date) -> None:
    """Decide create / update / unchanged for one row and check it as the services
    would, filling ``plan`` with the changes shown and what to write."""
    plan.project, plan.pid = project, project.id if project else None
    if not inc.name:
        cells.problem("name", N_("项目名称：必填"))
    for key, limit in _MAX_LENGTH.items():
        text = getattr(inc, key)
        # (A long text the project already has is not new input.)
        if text and len(text) > limit and (project is None or key not in _LONG_TEXTS
                                           or text != getattr(project, key)):
            cells.problem(key, N_("%(field)s：不能超过 %(max)s 字（现有 %(n)s 字）"),
                          {"field": _HEADERS[key], "max": str(limit), "n": str(len(text))})
    data = project_data(project) if project else ProjectData(name=inc.name)
    data.name = inc.name or data.name
    for attr in ("content", "notes"):
        if getattr(inc, attr) is not None:
            setattr(data, attr, getattr(inc, attr))
    if inc.leader is not None:
        data.leader_name = inc.leader
    if inc.company is not None:
        data.company_name = inc.company
    if inc.amount_given:
        data.investment_amount = inc.amount.wan if inc.amount else None
        if inc.amount:
            data.investment_currency = inc.amount.currency
    notes = list(inc.extra_notes)

    if inc.regions is not None:
        regions = _resolve(world, cells, plan, "regions", inc.regions, confirm_new)
    else:
        regions = list(project.regions) if project else []
    industry = project.industry if project else None
    if inc.industry is not None:
        industry = (_resolve(world, cells, plan, "industry", [inc.industry], confirm_new)[0]
                    if inc.industry else None)
    unit = project.unit if project else None
    if inc.unit is not None:
        unit = (_resolve(world, cells, plan, "unit", [inc.unit], confirm_new)[0]
                if inc.unit else None)
    if unit is None and project is None and user is not None and user.role == OFFICER:
        unit = user.unit        # an officer's new projects are their unit's (the form's rule)
    officer = project.officer if project else None
    if inc.officer is not None:
        officer = world.users.get(normalize(inc.officer)) if inc.officer else None
        if inc.officer and officer is None:
            cells.problem("officer",
                          N_("「%(name)s」不是系统用户（或有重名），未设为招商责任人，已记入备注"),
                          {"name": inc.officer}, warning=True)
            notes.append(f"{_HEADERS['officer']}：{inc.officer}")
    if notes:
        base = data.notes or ""
        data.notes = ISSUE_SEPARATOR.join([base] * bool(base) + [n for n in notes if n not in base])
        # What the import adds may take the notes past the limit (the cell's own
        # length is checked above).
        if data.notes != base and len(data.notes) > TEXT_MAX \
                and len(inc.notes or "") <= TEXT_MAX:
            cells.problem("notes", N_("%(field)s：连同导入时记入的说明超过 %(max)s 字，请精简"),
                          {"field": _HEADERS["notes"], "max": str(TEXT_MAX)})

    # The command line (no user) acts as an administrator.
    if user is not None:
        if project is not None and not policy.can(user, policy.EDIT_PROJECT, project):
            cells.problem("name", N_("该项目属于其他单位，无权修改"))
        elif project is None and not policy.can(
                user, policy.EDIT_PROJECT, SimpleNamespace(unit_id=getattr(unit, "id", None))):
            cells.problem("unit", N_("%(field)s：只能导入本单位的项目"),
                          {"field": _HEADERS["unit"]})

    company = world.company(data.company_name)
    # The project as the row leaves it, for the gate and the changes shown: a plain
    # object filled as the services fill a Project (a transient Project's attribute
    # bookkeeping cost more than the rest of the row's check).
    ghost = SimpleNamespace(stage=project.stage if project else lifecycle.LEAD,
                            industry_id=None, unit_id=None)
    assign_details(ghost, data, company, regions, industry, unit, officer)
    ghost.company_id = getattr(company, "id", None)
    _plan_stage(plan, inc, cells, project, ghost, user, today)

    plan.name, plan.code = data.name, project.code if project else ""
    plan.data = data
    plan.data.region_ids = [getattr(r, "id", None) for r in regions]
    plan.data.industry_id = getattr(industry, "id", None)
    plan.data.unit_id = getattr(unit, "id", None)
    plan.data.officer_id = getattr(officer, "id", None)

    # The changes the preview shows: the history's own display text of each field.
    before = snapshot(project) if project else {}
    after = snapshot(ghost)
    for key, new in after.items():
        old = before.get(key, "")
        if new != old:
            plan.changes.append((FIELD_LABELS[key], old, new))
    if project is not None:
        for s in lifecycle.MILESTONE_FIELDS:
            if plan.dates.get(s) != project.milestone(s) and project.milestone(s) is not None \
                    and plan.dates.get(s) is not None:
                plan.changes.append((lifecycle.MILESTONE_LABELS[s], str(project.milestone(s)),
                                     str(plan.dates[s])))
    old_stage = _stage_text(project.stage, project.partial_production) if project else ""
    new_stage = _stage_text(plan.stage, plan.partial)
    if new_stage != old_stage:
        dates = [str(plan.dates[s]) for s in lifecycle.STAGES[1:]
                 if plan.dates.get(s) and (project is None or project.milestone(s) is None)]
        plan.changes.append((N_("项目阶段"), old_stage, new_stage + (
            f"（{'、'.join(dates)}）" if dates else "")))
    old_status = project.status if project else lifecycle.ACTIVE
    if plan.status and plan.status != old_status:
        plan.changes.append((N_("项目状态"), str(lifecycle.STATUS_LABELS[old_status]),
                             str(lifecycle.STATUS_LABELS[plan.status])))
    if inc.issues is not None and inc.issues != ISSUE_SEPARATOR.join(issues):
        known = set(issues)
        plan.new_issues = [t.strip() for t in inc.issues.split(ISSUE_SEPARATOR)
                           if t.strip() and t.strip() not in known]
        if any(len(t) > TEXT_MAX for t in plan.new_issues):
            cells.problem("issues", N_("%(field)s：每项问题不能超过 %(max)s 字（多项用“；”分隔）"),
                          {"field": _HEADERS["issues"], "max": str(TEXT_MAX)})
        if plan.new_issues:
            plan.changes.append((FIELD_LABELS["issue"], ISSUE_SEPARATOR.join(issues),
                                 ISSUE_SEPARATOR.join(issues + plan.new_issues)))
    if plan.errors:
        plan.action = INVALID
    elif project is None:
        plan.action = CREATE
    else:
        plan.action = UPDATE if plan.changes else UNCHANGED


def _stage_text(stage: str, partial: bool) -> str:
    if stage == lifecycle.PRODUCING and partial:
        return PARTIAL_PRODUCTION
    return str(lifecycle.STAGE_LABELS[stage])


def _plan_stage(plan: RowPlan, inc: _Incoming, cells: _Cells, project: Project | None,
                ghost: SimpleNamespace, user: User | None, today: date) -> None:
    """The stage, milestone dates and status the row asks for, checked: dates in order
    and agreeing with the stage, never a move back, the signing gate."""
    current = project.stage if project else lifecycle.LEAD
    dates = dict(project.milestones) if project else {s: None for s in lifecycle.MILESTONE_FIELDS}
    dates.update(inc.dates)
    progress = inc.progress
    if progress is not None and progress.stage:
        stage = progress.stage
    elif inc.dates:
        stage = lifecycle.current_stage(dates)
    else:
        stage = current
    stage_key = "stage" if cells.has("stage") else None

    def date_key(s):
        key = lifecycle.MILESTONE_FIELDS[s]
        return key if cells.has(key) else stage_key

    if lifecycle.stage_index(stage) < lifecycle.stage_index(current):
        cells.problem(stage_key or date_key(current),
                      N_("项目阶段：系统中已是%(old)s，台账为%(stage)s；退回阶段请在项目页面由管理员更正"),
                      {"old": lifecycle.STAGE_LABELS[current],
                       "stage": lifecycle.STAGE_LABELS[stage]})
    label = lifecycle.STAGE_LABELS[stage]
    for s in lifecycle.STAGES[1:]:
        reached = lifecycle.stage_index(s) <= lifecycle.stage_index(stage)
        if reached and dates.get(s) is None:
            cells.problem(date_key(s), N_("%(field)s：项目阶段为%(stage)s，必须填写此时间"),
                          {"field": lifecycle.MILESTONE_LABELS[s], "stage": label})
        elif not reached and dates.get(s) is not None:
            cells.problem(date_key(s), N_("%(field)s：项目阶段为%(stage)s，不能填写此后阶段的时间"),
                          {"field": lifecycle.MILESTONE_LABELS[s], "stage": label})
    for error in lifecycle.check_milestone_order(dates, today):
        cells.problem(date_key(_DATE_KEYS[error.field]), error.message, dict(error.params))
    if project is not None and user is not None and not policy.can(user, policy.CORRECT_STAGE):
        for s, old in project.milestones.items():
            new = dates.get(s)
            if old is not None and new is not None and new != old and not _refines(new, old):
                cells.problem(date_key(s),
                              N_("%(field)s：系统中为 %(old)s，修改已有的时间须由管理员导入或更正"),
                              {"field": lifecycle.MILESTONE_LABELS[s], "old": str(old)})
    ghost.stage = stage
    for error in lifecycle.missing_for_stage(stage, gate_values(ghost)):
        key = {"investment": "amount", "regions": "regions", "industry": "industry",
               "unit": "unit", "company": "company"}[error.field]
        if key in cells.bad:
            continue        # its cell's own error says it already
        cells.problem(key if cells.has(key) else stage_key, error.message, dict(error.params))

    status = inc.status
    if progress is not None and progress.status:
        if status and status != progress.status:
            cells.problem("status", N_("项目状态：与「项目阶段」列矛盾"))
        status = status or progress.status
    old_status = project.status if project else lifecycle.ACTIVE
    if (status or old_status) != lifecycle.ACTIVE and stage != current:
        cells.problem(stage_key, N_("目标阶段：暂缓或终止的项目请先恢复推进"))
    plan.stage, plan.dates = stage, {s: d for s, d in dates.items() if d is not None}
    plan.partial = bool(progress and progress.partial and stage == lifecycle.PRODUCING) or (
        progress is None and project is not None and project.partial_production
        and stage == lifecycle.PRODUCING)
    plan.status = status


def _refines(new: PartialDate, old: PartialDate) -> bool:
    """True when ``new`` only states ``old`` more precisely (2022-03 → 2022-03-11)."""
    order = lifecycle.PRECISIONS
    return (lifecycle.compare(new, old) == 0
            and order.index(new.precision) < order.index(old.precision))


Progress = Callable[[int, int], None]     # (rows done, rows in all), now and then


def preview(data: bytes, user: User | None, sheet: str | None = None,
            confirm_new: bool = False, today: date | None = None,
            progress: Progress | None = None, reuse: bool = False) -> ImportResult:
    """Read and check a ledger against the database without writing anything;
    ``progress`` hears how far it got (reading, then checking: twice the rows).
    ``reuse`` (the commit) takes the rows as the last preview of this file parsed them,
    and reads again what they are checked against: when all of it is as that preview
    found it, that preview's plans hold (planning reads nothing else), else every row
    is planned again."""
    today = today or local_today()
    progress = progress or (lambda done, total: None)
    result = ImportResult()
    try:
        parsed = _parsed(data, sheet, progress, reuse)
    except WorkbookError as exc:
        result.errors.append(Problem(exc.message, exc.params))
        result.sheets = getattr(exc, "sheets", [])
        return result
    _read(parsed, result, user, confirm_new, today, progress, reuse)
    if confirm_new and any(result.new_names.values()) and user is not None \
            and not policy.can(user, policy.MANAGE_REFERENCE):
        result.errors.append(Problem(N_("只有管理员可以新增来源地、产业类别和责任单位")))
    return result


PROGRESS_EVERY = 200


@dataclass
class _ParsedRow:
    """A data row as parsed from the file, with the problems of its cells."""

    number: int
    inc: _Incoming
    errors: list[Problem]
    warnings: list[Problem]
    bad: set[str]


@dataclass
class _Parsed:
    """What the file says, independent of the database: its layout, the rows skipped,
    each data row parsed, and the warnings about its columns."""

    layout: object
    sheets: list[str]
    columns: dict[str, list[ColumnRef]]
    warnings: list[Problem]
    skipped: list[SkippedRow]
    rows: list[_ParsedRow]
    total: int


@dataclass
class _Checked:
    """A preview's plans, with what they were planned against (see _basis)."""

    parsed: _Parsed     # the rows planned
    asked: tuple        # the importing user's id, confirm_new, today
    basis: tuple
    rows: list[RowPlan]
    new_names: dict[str, list[str]]


# The last file parsed (sha-256 and sheet → _Parsed) and its last check: a commit after
# its preview does not read and parse the file again, and when the database still holds
# what the rows were checked against, not plan them again either. One worker's memory
# (~3 KB a row), given back KEEP_PARSED_SECONDS after the preview: a commit follows its
# preview within minutes or much later (then it reads the file again).
_last_parsed: tuple[tuple, _Parsed] | None = None
_last_checked: _Checked | None = None
KEEP_PARSED_SECONDS = 600
_forget_timer: threading.Timer | None = None


def _keep_parsed(entry: tuple[tuple, _Parsed]) -> None:
    """Hold ``entry`` as the last file parsed, forgotten with its check after a while."""
    global _last_parsed, _forget_timer

    def forget():
        global _last_parsed, _last_checked
        if _last_parsed is entry:
            _last_parsed = _last_checked = None

    _last_parsed = entry
    if _forget_timer is not None:
        _forget_timer.cancel()
    _forget_timer = threading.Timer(KEEP_PARSED_SECONDS, forget)
    _forget_timer.daemon = True
    _forget_timer.start()


def _parsed(data: bytes, sheet: str | None, progress: Progress, reuse: bool) -> _Parsed:
    """The file's rows parsed (raises WorkbookError); with ``reuse`` (a commit), those
    of the last preview when it was this file."""
    global _last_parsed, _last_checked
    key = (hashlib.sha256(data).digest(), sheet)
    last = _last_parsed
    if reuse and last is not None and last[0] == key:
        return last[1]
    _last_checked = None
    parsed = _parse(Ledger(data, sheet), progress)
    _keep_parsed((key, parsed))
    return parsed


def _parse(ledger: Ledger, progress: Progress) -> _Parsed:
    layout = ledger.layout
    columns = layout.by_key()
    warnings = [Problem(N_("第 %(column)s 列「%(header)s」不是台账的列，已忽略"),
                        {"column": c.letter, "header": c.header}) for c in layout.ignored]
    for key, refs in columns.items():
        if len(refs) > 1 and key != "amount":
            warnings.append(Problem(N_("「%(header)s」列出现多次，只读取第 %(column)s 列"),
                                    {"header": _HEADERS[key], "column": refs[0].letter}))
            columns[key] = refs[:1]
    total = max(ledger.total_rows, 1)
    parsed = _Parsed(layout, ledger.sheets, columns, warnings, [], [], total)
    for n, item in enumerate(ledger.rows(), 1):
        if n % PROGRESS_EVERY == 0:
            progress(min(n, total), 2 * total)
        if isinstance(item, SkippedRow):
            parsed.skipped.append(item)
            continue
        plan = RowPlan(item.number)
        cells = _Cells(item.values, columns, plan)
        inc = _read_row(cells)
        parsed.rows.append(_ParsedRow(item.number, inc, plan.errors, plan.warnings, cells.bad))
    return parsed


def _read(parsed: _Parsed, result: ImportResult, user: User | None, confirm_new: bool,
          today: date, progress: Progress, reuse: bool) -> None:
    """Check the parsed rows against the database: match, plan, find new names (or,
    with ``reuse``, take the last check's plans when nothing they read has changed)."""
    global _last_checked
    layout, columns, total = parsed.layout, parsed.columns, parsed.total
    result.sheet, result.sheets, result.columns = layout.sheet, parsed.sheets, layout.columns
    result.warnings += parsed.warnings
    result.skipped += parsed.skipped
    world = _World({row.inc.code for row in parsed.rows if row.inc.code},
                   {normalize(row.inc.name) for row in parsed.rows})
    rows = []
    for row in parsed.rows:
        plan = RowPlan(row.number, errors=list(row.errors), warnings=list(row.warnings))
        cells = _Cells((), columns, plan, set(row.bad))
        pid = world.match(row.inc, cells) if row.inc.name else None
        rows.append((plan, cells, row.inc, pid))
    projects = _load(sorted({pid for *_x, pid in rows if pid}))
    world.load_companies([inc.company for _p, _c, inc, _pid in rows]
                         + [p.company.name for p in projects.values() if p.company])
    matched = list(projects)
    issues = {}
    for start in range(0, len(matched), 500):
        issues.update(open_issue_texts(matched[start:start + 500]))
    asked = (getattr(user, "id", None), confirm_new, today)
    basis = _basis(world, projects, issues, user)
    last = _last_checked
    if reuse and last is not None and last.parsed is parsed and (last.asked, last.basis) == (
            asked, basis):
        for plan in last.rows:      # the same rows as they are now, to write
            plan.project = projects.get(plan.pid)
        result.rows, result.new_names = last.rows, last.new_names
        return
    seen: dict[tuple, tuple[int, _Incoming]] = {}
    for n, (plan, cells, inc, pid) in enumerate(rows, 1):
        if n % PROGRESS_EVERY == 0:
            progress(total + n * total // len(rows), 2 * total)
        result.rows.append(plan)
        key = ("p", pid) if pid else ("n", normalize(inc.name), normalize(inc.company or ""))
        if inc.name and key in seen:
            first, earlier = seen[key]
            plan.name = inc.name
            if earlier.signature() == inc.signature():
                plan.action = MERGED
                plan.warnings.append(Problem(N_("与第 %(first)s 行完全相同，已合并"),
                                             {"first": str(first)}, plan.row))
            else:
                cells.problem("name", N_("与第 %(first)s 行是同一项目，但内容不同"),
                              {"first": str(first)})
            continue
        seen[key] = (plan.row, inc)
        _plan_row(plan, inc, cells, projects.get(pid), issues.get(pid, []), world, user,
                  confirm_new, today)
        for kind, names in plan.needs.items():
            known = result.new_names.setdefault(kind, [])
            known.extend(sorted(n for n in names if n not in known))
    _last_checked = _Checked(parsed, asked, basis, result.rows, result.new_names)


def _basis(world: _World, projects: dict[int, Project], issues: dict[int, list[str]],
           user: User | None) -> tuple:
    """Everything planning reads from the database, as plain values (taken before the
    planning adds the new investors to ``world``): the matches by code and by name, the
    reference lists, the users, the investors named, every column, tag and open issue
    of each matched project, and the importing user's role and unit. Two checks of the
    same rows with equal bases plan them the same."""
    def person(u):
        return u and (u.id, u.username, u.display_name, u.role, u.unit_id, u.is_active)

    refs = {kind: sorted((key, o.id, o.name, getattr(o, "parent_id", None),
                          getattr(o, "sort_order", None)) for key, o in objs.items())
            for kind, objs in world.refs.items()}
    columns = [c.key for c in Project.__table__.columns]
    matched = sorted((pid, [getattr(p, c) for c in columns], [r.id for r in p.regions],
                      p.company and (p.company.id, p.company.name))
                     for pid, p in projects.items())
    return (world.by_code, world.by_name, refs,
            sorted((key, person(u)) for key, u in world.users.items()),
            sorted((key, c.id, c.name) for key, c in world.companies.items()),
            matched, issues, person(user))


# ---------------------------------------------------------------------------- commit


def commit(data: bytes, user: User | None, source_name: str, sheet: str | None = None,
           skip_invalid: bool = False, confirm_new: bool = False,
           today: date | None = None) -> ImportResult:
    """Check the ledger again and write it (add and flush; the caller commits): every
    valid row when ``skip_invalid``, otherwise all rows or, on any error, nothing
    (ImportRefused). Confirmed new regions, industries and units are created first."""
    today = today or local_today()
    result = preview(data, user, sheet, confirm_new, today, reuse=True)
    if result.errors or (result.all_errors and not skip_invalid):
        raise ImportRefused(result)
    source = f"{SOURCE} {source_name}".strip()
    with change_source(source):
        if confirm_new and any(result.new_names.values()):
            for kind, names in result.new_names.items():
                model = NEW_KINDS[kind][0]
                for name in names:
                    save_reference_item(model, None, name, None, True)
            # Check again against the lists with the new names in them.
            result = preview(data, user, sheet, confirm_new, today, reuse=True)
            if result.errors or (result.all_errors and not skip_invalid):
                raise ImportRefused(result)
        global _last_parsed, _last_checked
        _last_checked = None        # the plans are written (and changed) now
        try:
            _write_all(result, user, source, today)
        except RulesBroken as exc:
            # A rule the check did not foresee: nothing is kept, the reason is shown.
            result.errors += [Problem(N_("导入时未通过检查：%(reason)s"),
                                      {"reason": rule_message(e)}) for e in exc.errors]
            raise ImportRefused(result) from None
    result.committed = True
    _last_parsed = None     # the parsed rows' memory back
    return result


def _write_all(result: ImportResult, user: User | None, source: str, today: date) -> None:
    """Write the checked rows: the new projects in bulk, then the updates."""
    creates = [p for p in result.rows if p.action == CREATE]
    made = create_projects([NewProject(p.data, p.stage, p.dates, p.partial) for p in creates],
                           user, source, today)
    finish = {}
    for plan, (pid, code) in zip(creates, made):
        plan.code, plan.data = code, None
        if (plan.status and plan.status != lifecycle.ACTIVE) or plan.new_issues:
            finish[pid] = plan
    ids = list(finish)
    for i in range(0, len(ids), CREATE_BATCH):
        for project in db.session.scalars(select(Project).where(
                Project.id.in_(ids[i:i + CREATE_BATCH]))):
            _finish_row(finish[project.id], project, user, today)
        db.session.flush()
    for plan in result.rows:
        if plan.action == UPDATE:
            _write(plan, user, source, today)


CREATE_BATCH = 500      # new projects with a status or issues, per query


def _finish_row(plan: RowPlan, project: Project, user: User | None, today: date) -> None:
    """A new project's status and coordination issues, with the batch's next flush."""
    if plan.status and plan.status != project.status:
        set_status(project, plan.status, HOLD_REASON, PartialDate(today), user, None, today)
    for text in plan.new_issues:
        raise_issue(project, text, None, None, user, today, flush=False)


def _write(plan: RowPlan, user: User | None, source: str, today: date) -> None:
    """Write one checked update through the project services."""
    project = plan.project
    update_project(project, plan.data, user, None)
    reached = {s: plan.dates[s] for s in plan.dates
               if project.milestone(s) is not None and plan.dates[s] != project.milestone(s)}
    if reached:
        correct_milestones(project, reached, user, today)
    if plan.status == lifecycle.ACTIVE and project.status != lifecycle.ACTIVE:
        set_status(project, lifecycle.ACTIVE, "", None, user, None, today)
    if plan.stage != project.stage:
        passed = lifecycle.STAGES[lifecycle.stage_index(project.stage) + 1:
                                  lifecycle.stage_index(plan.stage) + 1]
        advance_stage(project, plan.stage, {s: plan.dates[s] for s in passed}, user, None,
                      note=source, partial_production=plan.partial, today=today)
    elif project.partial_production != plan.partial:
        record_change("project", project.id, "partial_production",
                      _stage_text(project.stage, project.partial_production),
                      _stage_text(plan.stage, plan.partial), user, project.id)
        project.partial_production = plan.partial
    _finish_row(plan, project, user, today)
    db.session.flush()
