"""Injection: stored script payloads in every user-editable text field render escaped on
every page and in the dashboard's chart data; SQL-injection strings in every search,
filter and sort parameter change nothing.

Stored XSS: each text field gets a marker (Zq07q) and a payload (<script>, a quote that
closes an attribute, </script>, {{7*7}}); every GET route of the URL map is walked as an
administrator (plus the officer's home page, filtered lists, reflected query strings and
a few refused forms that name stored records), and wherever a marker shows up it must be
followed by the payload escaped for where it stands: HTML-escaped in the page,
JSON-escaped (no <, >, &, ') in the chart data block, percent-encoded in a URL. Every
field must show up somewhere, so the walk cannot silently miss one. No link runs script
(a javascript: website is refused). In a real browser, the charts' tooltips (HTML that
ECharts builds from the names) must show a payload as text.

SQL injection: every query-string parameter of the lists, the board, the dashboard, the
export and the other GET pages gets strings such as ' OR 1=1 -- ; the answer is 200 or
400, shows exactly the rows a literal search for that text would (% _ \\ match
literally), leaks no password hash, writes nothing, and no statement carries the string
inline (it is always a bound parameter).
"""
import io
import json
import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote, quote_plus, urlencode

import openpyxl
import pytest
from flask import url_for
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import escape
from sqlalchemy import event, func, select

from crm.clock import today
from crm.extensions import db
from crm.models import (Company, ImportJob, Industry, LoginFailure, PipelineCell, Project,
                        ProjectToken, Region, Setting, Target, Unit, User)
from crm.text import normalize
from tests import test_browser
from tests.conftest import PASSWORD, login
from tests.test_excel_import import messy_ledger, xlsx
from tests.test_policy import _routes, _snapshot, _url

# Each stored value is a marker then one of these. ASCII only: the chart data's JSON
# keeps ASCII as is, so a marker is found there as in the HTML.
PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(2)</script>",
    "'><svg onload=alert(3)>",
    "{{7*7}}{%print(7*7)%}<i>x",
)
SHORT_PAYLOAD = '"><i>x'          # for the few fields of 20 characters or fewer
# Never in a page unescaped, wherever it comes from.
RAW = ("<script>alert", "<img src=x", "<svg onload", "onerror=alert(1)>", "<i>x")
# A link or source that runs script: escaping does not stop it, refusing it does.
SCRIPT_URL = re.compile(r"""\b(?:href|src|action|formaction)\s*=\s*["']?\s*"""
                        r"""(?:javascript|vbscript|data):""", re.I)


class Stored:
    """Hands out the stored values: field name → marker + payload."""

    def __init__(self):
        self.fields: dict[str, tuple[str, str]] = {}
        self.reflected: set[str] = set()   # sent in a request: a page may not echo it

    def __call__(self, field: str, max_len: int = 2000, avoid: str = "",
                 reflected: bool = False) -> str:
        if reflected:
            self.reflected.add(field)
        marker = f"Zq{len(self.fields):02d}q"
        fitting = [p for p in PAYLOADS if len(marker + p) <= max_len
                   and not set(avoid) & set(p)] or [SHORT_PAYLOAD]
        payload = fitting[len(self.fields) % len(fitting)]
        self.fields[field] = (marker, payload)
        return marker + payload

    def value(self, field: str) -> str:
        return "".join(self.fields[field])


def _html_forms(payload: str) -> set[str]:
    """How a payload may follow its marker in HTML: escaped as text or attribute, or
    percent-encoded in a URL (then escaped), spaces dropped for a tel: link."""
    forms = {str(escape(payload)), str(escape(payload.replace(" ", "")))}
    for safe in ("", "/", "!$'()*,/:;?@"):
        forms |= {str(escape(quote(payload, safe=safe))),
                  str(escape(quote_plus(payload, safe=safe)))}
    return forms


def _json_forms(payload: str) -> set[str]:
    """How a payload may follow its marker inside a <script type="application/json">."""
    return {htmlsafe_json_dumps(payload)[1:-1]}


JSON_BLOCK = re.compile(r'<script type="application/json"[^>]*>(.*?)</script>', re.S)


def check_page(label: str, body: str, stored: Stored, seen: dict, failures: list) -> None:
    """Every marker in ``body`` is followed by its payload escaped for its context."""
    blocks = [m.span(1) for m in JSON_BLOCK.finditer(body)]
    for start, end in blocks:
        if re.search(r"[<>&']", body[start:end]):
            failures.append(f"{label}: a JSON block holds a raw < > & or ': "
                            f"{body[start:end][:200]!r}")
    for m in SCRIPT_URL.finditer(body):
        failures.append(f"{label}: a script URL: {body[m.start():m.end() + 40]!r}")
    lowered = body.lower()
    for raw in RAW:
        if raw in lowered:
            at = lowered.index(raw)
            failures.append(f"{label}: raw {raw!r} in the page: {body[at - 60:at + 60]!r}")
    for field, (marker, payload) in stored.fields.items():
        for m in re.finditer(re.escape(marker), body):
            seen.setdefault(field, set()).add(label)
            in_json = any(a <= m.start() < b for a, b in blocks)
            forms = _json_forms(payload) if in_json else _html_forms(payload)
            rest = body[m.end():m.end() + 120]
            if not any(rest.startswith(f) for f in forms):
                failures.append(f"{label}: {field} is not escaped for "
                                f"{'JSON' if in_json else 'HTML'}: "
                                f"{body[m.start() - 40:m.end() + 60]!r}")


def _strings(value):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _rename_sheet(data: bytes, title: str) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    wb.worksheets[0].title = title
    return xlsx(wb)


def _ledger_rows(v: Stored, prefix: str) -> list[list]:
    """Two ledger rows: a project of the stored unit, region and industry whose texts
    are payloads, and one bringing new reference names that are payloads."""
    # (A preview lists a new project by its name; the import stores every text.)
    texts = [v(f"{prefix}.{f}") if prefix == "import" else f"{prefix}{f}"
             for f in ("company_name", "problem", "remark")]
    known = [7, v(f"{prefix}.project_name", 200), texts[0], v.value("region.name"),
             v.value("industry.name"), 3, "签约", "2024", None, None, None,
             v.value("unit.name"), texts[1], texts[2]]
    new = [8, f"{prefix}新名称项目", f"{prefix}新名称公司",
           v(f"{prefix}.region", 50, avoid="/"),   # a "/" separates regions
           v(f"{prefix}.industry", 50), 3, "签约", "2024", None, None, None,
           v(f"{prefix}.unit", 100), None, None]
    return [known, new]


def build_stored_world(factory, users) -> tuple[Stored, dict, list[dict]]:
    """Every user-editable text that a page renders, each a payload, created through
    the services (a ledger import for what only an import writes); returns the values,
    the ids of the stored records and the URL arguments to walk the URL map with."""
    from crm.auth.services import create_user
    from crm.companies.services import CompanyData, create_company, save_contact
    from crm.coordination.services import close_issue, raise_issue, write_instruction
    from crm.excel import importer, jobs
    from crm.lifecycle import parse_partial_date
    from crm.projects.services import (ProjectData, advance_stage, correct_stage,
                                       create_project, set_status, update_project)
    from crm.reference.services import save_reference_item
    from crm.targets.services import TargetData, save_target
    from crm.visits.services import VisitData, log_visit

    v = Stored()
    day = today()
    group = save_reference_item(Region, None, v("region.group", 50), None, True)
    region = save_reference_item(Region, None, v("region.name", 50), None, True,
                                 parent_id=group.id)
    industry = save_reference_item(Industry, None, v("industry.name", 50), None, True)
    unit = save_reference_item(Unit, None, v("unit.name", 100), None, True)
    admin = create_user("xss_admin", v("admin.display_name", 50), "admin", PASSWORD)
    leader = create_user("xss_leader", v("leader.display_name", 50), "leader", PASSWORD)
    officer = create_user("xss_officer", v("officer.display_name", 50), "officer",
                          PASSWORD, unit)
    db.session.commit()

    company = create_company(CompanyData(
        name=v("company.name", 200), region_id=region.id, industry_id=industry.id,
        hq_city=v("company.hq_city", 50),
        website="https://example.com/" + v("company.website", 180),
        notes=v("company.notes")), admin)
    contact = save_contact(company, None, v("contact.name", 50), v("contact.title", 50),
                           v("contact.phone", 50), v("contact.email", 120), admin)
    db.session.commit()

    data = ProjectData(
        name=v("project.old_name", 200), company_name=company.name,
        region_ids=[region.id], industry_id=industry.id, content=v("project.content"),
        capacity_value=Decimal(10), capacity_unit=v("project.capacity_unit", 20),
        investment_amount=Decimal(200000), unit_id=unit.id,
        leader_name=v("project.leader_name", 50), officer_id=officer.id,
        notes=v("project.notes"))
    project = create_project(data, officer)
    db.session.commit()
    update_project(project, replace(data, name=v("project.name", 200)), officer, None)
    signed = parse_partial_date((day - timedelta(days=20)).isoformat())
    advance_stage(project, "signed", {"signed": signed}, officer, None,
                  note=v("stage.note"))
    # A second project: corrected back (a reason), then put on hold (a reason).
    held = create_project(replace(data, name=v("project2.name", 200)), officer)
    advance_stage(held, "signed", {"signed": signed}, officer, None)
    correct_stage(held, "lead", v("stage.correction_reason"), admin, None)
    set_status(held, "on_hold", v("project.status_reason"),
               parse_partial_date(day.isoformat()), admin, None)
    db.session.commit()

    visited = day - timedelta(days=2)
    visit = log_visit(VisitData(
        visited_on=visited, kind="visit", company_name=company.name,
        project_ids=[project.id], city=v("visit.city", 50), led_by_leader=True,
        leader_name=v("visit.leader_name", 50), participant_ids=[officer.id],
        people_met=v("visit.people_met", 500), purpose=v("visit.purpose"),
        outcome=v("visit.outcome"), next_steps=v("visit.next_steps"), follow_up_on=day,
        trip_destination=v("visit.trip_destination", 100),
        trip_start=visited - timedelta(days=1), trip_end=visited), officer, confirmed=True)
    issue = raise_issue(project, v("issue.description"), unit.id, None, admin)
    closed = raise_issue(project, v("issue2.description"), unit.id, None, admin)
    close_issue(closed, v("issue.resolution"), None, admin)
    instruction = write_instruction(project, v("instruction.text"), leader)
    target = save_target(None, TargetData(year=day.year, metric="signings",
                                          value=Decimal(5), unit_id=unit.id), admin)
    save_target(None, TargetData(year=day.year, metric="region_signings",
                                 value=Decimal(2), region_id=region.id), admin)
    db.session.commit()

    # A ledger: an officer's upload checked (its file name, sheet and rows shown in the
    # preview), and an administrator's import that creates the new names it brings.
    sheet = v("import.sheet", 31, avoid="/\\*?:[]")   # a sheet title has none of these
    upload = _rename_sheet(messy_ledger(_ledger_rows(v, "preview")), sheet)
    job = jobs.create_job(officer, v("import.filename", 190) + ".xlsx", upload)
    jobs._finish(job, jobs.READY, importer.preview(upload, officer))
    importer.commit(messy_ledger(_ledger_rows(v, "import")), admin,
                    v("import.source", 100), confirm_new=True)
    db.session.commit()
    imported = db.session.scalar(select(Project).where(
        Project.name == v.value("import.project_name")))

    base = {"issue_id": issue.id, "instruction_id": instruction.id, "job_id": job.id,
            "target_id": target.id, "company_id": company.id, "contact_id": contact.id,
            "visit_id": visit.id, "project_id": project.id, "user_id": officer.id,
            "kind": "units", "item_id": unit.id, "code": "en", "filename": "css/app.css"}
    variants = [base, {**base, "project_id": held.id, "kind": "regions",
                       "item_id": region.id, "user_id": admin.id, "issue_id": closed.id},
                {**base, "kind": "industries", "item_id": industry.id,
                 "user_id": leader.id, "project_id": imported.id,
                 "company_id": imported.company_id}]
    ids = {"unit": unit.id, "region": region.id, "group": group.id,
           "industry": industry.id, "officer": officer.id, "company": company.id,
           "project": project.id, "month": visited.strftime("%Y-%m")}
    return v, ids, variants


def _signed_in(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_stored_payloads_render_escaped_on_every_page(app, users, factory):
    v, ids, variants = build_stored_world(factory, users)
    admin = _signed_in(app, "xss_admin")
    failures, seen, pages = [], {}, {}

    def visit(client, url, label=None, method="GET", data=None):
        response = client.open(url, method=method, data=data)
        label = label or f"{method} {url}"
        ctype = response.mimetype
        if response.status_code >= 500:
            failures.append(f"{label}: {response.status_code}")
        if ctype == "text/html":
            body = response.get_data(as_text=True)
            pages[label] = body
            check_page(label, body, v, seen, failures)
        elif ctype == "application/json":
            body = response.get_data(as_text=True)
            if response.headers.get("X-Content-Type-Options") != "nosniff":
                failures.append(f"{label}: JSON without X-Content-Type-Options: nosniff")
            for s in _strings(json.loads(body)):
                for field, (marker, payload) in v.fields.items():
                    if marker in s:
                        seen.setdefault(field, set()).add(label)
                        if payload not in s:
                            failures.append(f"{label}: {field} altered in JSON: {s!r}")
        return response

    # Every GET route of the URL map, for each of the stored records it can show …
    walk = []
    for rule, method in _routes(app):
        if method != "GET" or rule.endpoint in ("static", "main.lang"):
            continue
        for world in variants:
            url = _url(app, rule, world)
            if url not in walk:
                walk.append(url)
    for url in walk:
        response = visit(admin, url)
        if response.status_code != 200:
            failures.append(f"GET {url}: {response.status_code}, expected 200")
    # … the lists filtered to them (the filter's select shows the chosen name) …
    with app.test_request_context():
        urls = [url_for("projects.index", q="Zq"), url_for("companies.lookup", q="Zq"),
                url_for("visits.trips", month=ids["month"]),
                url_for("visits.index", company=ids["company"], city=v.value("visit.city")),
                url_for("coordination.index", unit=ids["unit"]),
                url_for("targets.index", year=today().year),
                url_for("projects.advance", project_id=ids["project"], stage="started"),
                url_for("visits.create", project_id=ids["project"],
                        company_id=ids["company"])]
        for name in ("unit", "industry", "region", "group"):
            arg = "region" if name == "group" else name
            urls += [url_for(endpoint, **{arg: ids[name]})
                     for endpoint in ("dashboard.index", "board.index", "projects.index")]
        # … and each text parameter of a page set to a payload (reflected).
        for endpoint, arg in (("projects.index", "q"), ("board.index", "q"),
                              ("companies.index", "q"), ("companies.lookup", "q"),
                              ("visits.index", "city"), ("visits.trips", "month"),
                              ("dashboard.index", "as_of"), ("auth.login", "next"),
                              ("projects.advance", "next")):
            value = v(f"reflected {endpoint}?{arg}", 100, reflected=True)
            urls.append(url_for(endpoint, **{arg: value}, **(
                {"project_id": ids["project"]} if endpoint == "projects.advance" else {})))
        # The 404 page of a path holding a payload.
        urls.append(url_for("projects.index") + quote(
            v("reflected path", 100, reflected=True)))
    for url in urls:
        visit(admin, url)

    # The officer's and leader's home pages: instructions, follow-ups, stalled projects.
    visit(_signed_in(app, "xss_officer"), "/", "GET / as the officer")
    visit(_signed_in(app, "xss_leader"), "/", "GET / as the leader")
    # Refused forms that name a stored record in their message; a website that would
    # run script from its link is refused.
    company = db.session.get(Company, ids["company"])
    name, website, version = company.name, company.website, company.version
    db.session.rollback()
    visit(admin, "/companies/new", "POST /companies/new (same name)", "POST",
          {"name": name})
    for bad in ("javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>"):
        response = visit(admin, f"/companies/{ids['company']}/edit",
                         f"POST website {bad!r}", "POST",
                         {"name": name, "website": bad, "nature": "", "region_id": "0",
                          "industry_id": "0", "version": str(version)})
        if response.status_code != 400:
            failures.append(f"website {bad!r}: {response.status_code}, expected 400")
    if db.session.scalar(select(Company.website).where(Company.id == ids["company"])) \
            != website:
        failures.append("a refused website was stored")
    db.session.rollback()

    # The chart data: valid JSON in which the payloads come back intact, with the
    # unit, industry and region names among the categories.
    charts = json.loads(JSON_BLOCK.search(pages["GET /dashboard/"]).group(1))
    for field, chart in (("unit.name", "unit"), ("industry.name", "industry"),
                         ("region.name", "region")):
        if v.value(field) not in charts[chart]["categories"]:
            failures.append(f"dashboard chart {chart!r} lacks {field}: "
                            f"{charts[chart]['categories']}")
    values = {v.value(f) for f in v.fields}
    for s in _strings(charts):
        if "Zq" in s and s not in values:
            failures.append(f"dashboard chart data altered a stored name: {s!r}")

    unseen = sorted(set(v.fields) - v.reflected - set(seen))
    if unseen:
        failures.append(f"stored fields shown on no page (the walk misses them): {unseen}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------
# SQL injection in query strings
# ---------------------------------------------------------------------------

INJECTIONS = (
    "' OR 1=1 --",
    "1; DROP TABLE project; --",
    "%' UNION SELECT password_hash FROM \"user\" --",
    "') OR ('1'='1",
    '"',
    "'",
    "\\",
    "%",
    "_",
)
# Parameters matched as text get every string above; the others (numbers, dates,
# choices, the sort key, a month) are parsed or looked up before any query, so one string
# that probes both a number (1 …) and a quoted string (' …) shows that.
TEXT_PARAMS = {"q", "city"}
TYPED_INJECTION = "1' OR '1'='1' --"
WRITES = ("INSERT", "UPDATE", "DELETE", "DROP", "ALTER", "CREATE", "TRUNCATE", "REPLACE",
          "MERGE", "GRANT")
LINK = {"project": re.compile(r'href="/projects/(\d+)"'),
        "company": re.compile(r'href="/companies/(\d+)"'),
        "visit": re.compile(r'href="/visits/(\d+)"')}


def build_search_world(factory, users) -> dict:
    """Projects, companies and visits whose names hold the characters an injection or a
    LIKE pattern uses (one even holds ' OR 1=1 -- literally), and plain ones."""
    from crm.coordination.services import raise_issue
    from crm.visits.services import VisitData, log_visit

    names = [("恒源光伏组件", "恒源新能源"), ("晶澳电池片", "晶澳太阳能"),
             ("注入' OR 1=1 --测试", "注入测试公司")]
    names += [(f"特殊{ch}项目", f"特殊{ch}公司") for ch in ("%", "_", "\\", "'", '"')]
    projects = [factory.project(n, by=users["officer"], company_name=c,
                                investment_amount=Decimal(200000 if i % 2 else 5000))
                for i, (n, c) in enumerate(names)]
    day = today()
    visits = []
    for p, city in zip(projects, ("苏州", "特殊%城", "' OR 1=1 --", "_")):
        visits.append(log_visit(VisitData(visited_on=day, kind="visit",
                                          company_name=p.company.name, city=city,
                                          project_ids=[p.id]),
                                users["officer"], confirmed=True))
    issue = raise_issue(projects[0], "用地指标", factory.unit("区中韩办").id, None,
                        users["admin"])
    db.session.commit()
    return {"projects": projects, "visits": visits, "issue": issue,
            "companies": db.session.scalars(select(Company)).all()}


def expected_projects(world, q: str) -> set[int]:
    """What a literal text search for ``q`` finds: name or investor contains it
    (ignoring case, width and spaces), or the code starts with it."""
    key, code = normalize(q), q.strip().upper()
    return {p.id for p in world["projects"]
            if key and (key in normalize(p.name) or key in normalize(p.company.name))
            or code and p.code.startswith(code)}


def expected_companies(world, q: str) -> set[int]:
    key = normalize(q)
    return {c.id for c in world["companies"] if not key or key in c.name_key}


def expected_rows(world, page: str, name: str, value: str):
    """(what the page lists, the ids it must list) for one parameter: a text search
    finds exactly its literal matches; any other value is refused and the list shows
    every row (filters are never half-applied), or is a sort, which shows every row;
    None for a page that lists nothing checked here."""
    projects = {p.id for p in world["projects"]}
    if page in ("/projects/", "/board/", "/ledger/export"):
        if name == "q":
            return "project", expected_projects(world, value)
        if name == "major":     # a check box: any value ticks it
            return "project", {p.id for p in world["projects"]
                               if p.investment_amount >= 100000}
        return "project", projects
    if page == "/companies/":
        return "company", expected_companies(world, value if name == "q" else "")
    if page == "/companies/lookup":
        return "lookup", expected_companies(world, value)
    if page == "/visits/":
        if name == "led":       # a check box: any value ticks it
            return "visit", {v.id for v in world["visits"] if v.led_by_leader}
        return "visit", {v.id for v in world["visits"]
                         if name != "city" or v.city == value.strip()}
    if page == "/dashboard/":
        return "charts", None
    return None


def _shown(kind: str, body: str, world) -> set[int]:
    """The ids of the rows a page lists (an export: the projects whose codes it holds;
    the lookup: the companies it suggests)."""
    if kind == "lookup":
        names = set(json.loads(body)["companies"])
        return {c.id for c in world["companies"] if c.name in names}
    if kind == "project" and body.startswith("xlsx:"):
        return {p.id for p in world["projects"] if p.code in body}
    return {int(i) for i in LINK[kind].findall(body)}


def _xlsx_text(data: bytes) -> str:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return "xlsx:" + "\n".join(str(c) for ws in wb.worksheets
                               for row in ws.iter_rows(values_only=True)
                               for c in row if c is not None)


def _param_names(app, form_class) -> list[str]:
    """The query-string names a filter form reads."""
    with app.test_request_context():
        return [f.name for f in form_class()]


def _counts():
    """Row counts beyond test_policy's snapshot, and every user's secrets."""
    counts = tuple(db.session.scalar(select(func.count()).select_from(m))
                   for m in (Region, Industry, Target, ImportJob, Setting, PipelineCell,
                             ProjectToken, LoginFailure))
    secrets = tuple(db.session.execute(select(User.password_hash, User.session_token)
                                       .order_by(User.id)).all())
    db.session.rollback()
    return _snapshot(), counts, secrets


def _names(world, kind, ids):
    if kind == "project":
        return sorted(p.name for p in world["projects"] if p.id in ids)
    return sorted(ids)


def test_sql_injection_in_query_strings_changes_nothing(app, users, factory):
    from crm.companies.forms import CompanyFilterForm
    from crm.coordination.forms import IssueFilterForm
    from crm.dashboard.forms import DashboardForm
    from crm.projects.forms import ProjectFilterForm
    from crm.visits.forms import VisitFilterForm

    world = build_search_world(factory, users)
    project = world["projects"][0]
    hashes = list(db.session.scalars(select(User.password_hash)))
    db.session.rollback()
    client = _signed_in(app, users["admin"].username)
    pages = {
        "/projects/": _param_names(app, ProjectFilterForm),
        "/board/": _param_names(app, ProjectFilterForm),
        "/ledger/export": _param_names(app, ProjectFilterForm),
        "/dashboard/": _param_names(app, DashboardForm),
        "/companies/": _param_names(app, CompanyFilterForm),
        "/visits/": _param_names(app, VisitFilterForm),
        "/coordination/": _param_names(app, IssueFilterForm),
        "/companies/lookup": ["q"],
        "/visits/trips": ["month"],
        "/admin/targets/": ["year"],
        "/reports/monthly": ["month", "download"],
        "/projects/new": ["visit_id"],
        "/visits/new": ["project_id", "company_id"],
        f"/projects/{project.id}/advance": ["stage", "next"],
        "/login": ["next"],
    }
    requests = [(page, {name: s}) for page, names in pages.items() for name in names
                for s in (INJECTIONS if name in TEXT_PARAMS else (TYPED_INJECTION,))]
    # Every other GET page of the URL map: the strings in parameters it does not read.
    ids = {"issue_id": world["issue"].id, "company_id": project.company_id,
           "visit_id": world["visits"][0].id, "project_id": project.id,
           "user_id": users["officer"].id, "kind": "units", "item_id": 1}
    for rule, method in _routes(app):
        if method == "GET" and rule.arguments <= set(ids) and rule.endpoint not in (
                "static", "main.lang"):
            url = _url(app, rule, ids)
            if url not in pages:
                requests.append((url, dict(zip(("q", "page", "sort", "id"), INJECTIONS))))
    # Strings in a path segment that the app reads as text: refused.
    requests += [(f"/admin/{quote(s, safe='')}/", {}) for s in INJECTIONS[:3]]
    requests += [(f"/lang/{quote(s, safe='')}", {}) for s in INJECTIONS[:3]]

    statements = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    charts = JSON_BLOCK.search(client.get("/dashboard/").get_data(as_text=True)).group(1)
    failures = []
    before = _counts()
    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        for page, args in requests:
            url = f"{page}?{urlencode(args)}" if args else page
            statements.clear()
            response = client.get(url)
            status = response.status_code
            allowed = (200, 400) if args else (404,)
            if page.startswith("/lang/") or (page == "/login" and status == 302):
                allowed = (302,)    # the language link and a signed-in user's login
            if status not in allowed:
                failures.append(f"GET {url}: {status}, expected one of {allowed}")
                continue
            body = _xlsx_text(response.data) if response.mimetype.endswith(".sheet") \
                else response.get_data(as_text=True)
            for leaked in ("pbkdf2:", "scrypt:", *hashes):
                if leaked in body:
                    failures.append(f"GET {url}: a password hash leaked ({leaked[:12]}…)")
            writes = [s for s in statements if s.lstrip().split(None, 1)[0].upper() in WRITES]
            if writes:
                failures.append(f"GET {url} wrote: {writes}")
            # Always a bound parameter, never spliced into a statement's text.
            inline = [s for s in statements for bad in args.values()
                      if len(bad) > 3 and bad in s]
            if inline:
                failures.append(f"GET {url}: the string is inline in SQL: {inline[:1]}")
            name, value = next(iter(args.items()), (None, None))
            expected = expected_rows(world, page, name, value) if len(args) == 1 else None
            if expected and expected[0] == "charts":
                if JSON_BLOCK.search(body).group(1) != charts:
                    failures.append(f"GET {url}: the charts differ from the unfiltered ones")
            elif expected:
                kind, want = expected
                got = _shown(kind, body, world)
                if got != want:
                    failures.append(f"GET {url}: lists {kind} {_names(world, kind, got)}"
                                    f", expected {_names(world, kind, want)}")
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    if _counts() != before:
        failures.append("the GET requests changed the database")
    assert len(requests) > 100, len(requests)   # the walk found the pages
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------
# The charts' tooltips, in a real browser
# ---------------------------------------------------------------------------

# The browser, live server and page fixtures of test_browser.py, bound to their names
# here so pytest finds them (as tests/test_browser_dashboard.py does).
browser = test_browser.browser
live_server = test_browser.live_server
open_page = test_browser.open_page

# ECharts builds a tooltip as HTML from what its formatter returns: the hovered bar's
# series and category names. Show each breakdown chart's tooltip for the bar of the
# category named by a payload, and report what the tooltip holds.
TOOLTIP_JS = """([index, marker]) => {
  const chart = window.dashboardCharts[index];
  const option = chart.getOption();
  const axis = [...option.xAxis, ...option.yAxis].find(a => a.type === 'category');
  const dataIndex = axis.data.findIndex(c => String(c.value ?? c).includes(marker));
  if (dataIndex < 0) { return {missing: axis.data}; }
  const seriesIndex = option.series.findIndex(s => s.data[dataIndex].value > 0);
  chart.dispatchAction({type: 'showTip', seriesIndex: seriesIndex, dataIndex: dataIndex});
  const tip = [...chart.getDom().querySelectorAll('div')]
    .find(d => d.children.length < 20 && d.textContent.includes(marker));
  return tip ? {text: tip.textContent, html: tip.innerHTML,
                elements: [...tip.querySelectorAll('*')].map(e => e.tagName.toLowerCase())}
             : {none: true};
}"""
CHART_INDEX = {"region": 2, "industry": 3, "unit": 4}   # DOM order of [data-chart]


@pytest.mark.browser
def test_chart_tooltips_show_names_as_text(open_page, live_server, factory, users):
    from crm.lifecycle import parse_partial_date
    from crm.projects.services import advance_stage
    from crm.reference.services import save_reference_item

    names = {"region": "XqR<img src=x id=injected-region>",
             "industry": 'XqI"><img src=x id=injected-industry>',
             "unit": "XqU<b id=injected-unit>粗体</b>"}
    save_reference_item(Region, None, names["region"], None, True)
    save_reference_item(Industry, None, names["industry"], None, True)
    save_reference_item(Unit, None, names["unit"], None, True)
    db.session.commit()
    project = factory.project("图表提示项目", unit=names["unit"], regions=[names["region"]],
                              industry=names["industry"], by=users["admin"])
    advance_stage(project, "signed", {"signed": parse_partial_date(
        (today() - timedelta(days=3)).isoformat())}, users["admin"], None)
    db.session.commit()

    page, problems = open_page()
    test_browser.login(page, "leader1")
    page.goto("/dashboard/")
    page.wait_for_function("() => Array.isArray(window.dashboardCharts) && "
                           "window.dashboardCharts.length === 5")
    failures = []
    for chart, name in names.items():
        tip = page.evaluate(TOOLTIP_JS, [CHART_INDEX[chart], name[:3]])
        if "text" not in tip:
            failures.append(f"{chart} chart: no tooltip for {name!r}: {tip}")
        elif name not in tip["text"] or {"img", "b", "script"} & set(tip["elements"]):
            failures.append(f"{chart} chart: the tooltip renders {name!r} as HTML: "
                            f"{tip['html']!r}")
    injected = page.evaluate("() => document.querySelectorAll('[id^=injected]').length")
    if injected:
        failures.append(f"{injected} element(s) from stored names were built in the page")
    assert not failures, "\n".join(failures)
    # An <img src=x> built from a name would make the browser fetch ./x; the tooltips,
    # confined to the chart (no arrow with a style attribute), break no CSP rule.
    problems.assert_clean()
