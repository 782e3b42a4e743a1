"""Access control over every route in the URL map, for every role.

POLICY lists each (endpoint, method) with the status each role gets; a route missing
from the table fails the suite, so a new route cannot ship without a decision. The same
walk proves that no GET request writes to the database and that POST routes refuse
requests without a valid CSRF token.
"""
import pytest
from sqlalchemy import event, func, select

from crm.extensions import db
from crm.models import (Change, Company, Contact, CoordinationIssue, Instruction, Project,
                        StageChange, Unit, User, Visit)
from tests.conftest import login

ROLES = ("anon", "officer", "other", "leader", "admin")
LOGIN = 302  # anonymous users are sent to /login


def row(anon, officer, other, leader, admin):
    return dict(zip(ROLES, (anon, officer, other, leader, admin)))


# "officer" owns the project (its unit); "other" is an officer of another unit.
# POST bodies carry no real field: allowed roles get 400 (validation), nothing is
# written.
POLICY = {
    ("static", "GET"): row(200, 200, 200, 200, 200),
    ("main.index", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("main.lang", "GET"): row(302, 302, 302, 302, 302),
    ("main.healthz", "GET"): row(200, 200, 200, 200, 200),
    ("auth.login", "GET"): row(200, 200, 200, 200, 200),
    ("auth.login", "POST"): row(400, 400, 400, 400, 400),
    ("auth.logout", "POST"): row(302, 302, 302, 302, 302),
    ("auth.change_password", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("auth.change_password", "POST"): row(LOGIN, 400, 400, 400, 400),
    ("auth.index", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("auth.create", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("auth.create", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("auth.edit", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("auth.edit", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("reference.index", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("reference.create", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("reference.create", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("reference.edit", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("reference.edit", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("reference.settings", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("reference.settings", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("targets.index", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("targets.create", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("targets.create", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("targets.edit", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("targets.edit", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("targets.delete", "POST"): row(LOGIN, 403, 403, 403, 302),
    ("targets.copy", "POST"): row(LOGIN, 403, 403, 403, 302),
    ("projects.index", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("excel.export", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("excel.template", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("excel.monthly", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("excel.import_ledger", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("excel.import_ledger", "POST"): row(LOGIN, 400, 400, 403, 400),
    # The officer's own import job: another officer may not see it.
    ("excel.import_job", "GET"): row(LOGIN, 200, 403, 403, 200),
    ("excel.import_progress", "GET"): row(LOGIN, 200, 403, 403, 200),
    ("excel.import_check", "POST"): row(LOGIN, 302, 403, 403, 302),
    ("excel.import_commit", "POST"): row(LOGIN, 302, 403, 403, 302),
    ("dashboard.index", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("projects.detail", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("projects.create", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("projects.create", "POST"): row(LOGIN, 400, 400, 403, 400),
    ("projects.edit", "GET"): row(LOGIN, 200, 403, 403, 200),
    ("projects.edit", "POST"): row(LOGIN, 400, 403, 403, 400),
    ("projects.advance", "GET"): row(LOGIN, 200, 403, 403, 200),
    ("projects.advance", "POST"): row(LOGIN, 400, 403, 403, 400),
    ("projects.status", "GET"): row(LOGIN, 200, 403, 403, 200),
    ("projects.status", "POST"): row(LOGIN, 400, 403, 403, 400),
    ("projects.correct", "GET"): row(LOGIN, 403, 403, 403, 200),
    ("projects.correct", "POST"): row(LOGIN, 403, 403, 403, 400),
    ("board.index", "GET"): row(LOGIN, 200, 200, 200, 200),
    # Investors are shared by all units: every officer keeps them up to date.
    ("companies.index", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("companies.detail", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("companies.create", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("companies.create", "POST"): row(LOGIN, 400, 400, 403, 400),
    ("companies.edit", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("companies.edit", "POST"): row(LOGIN, 400, 400, 403, 400),
    ("companies.contact_create", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("companies.contact_create", "POST"): row(LOGIN, 400, 400, 403, 400),
    ("companies.contact_edit", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("companies.contact_edit", "POST"): row(LOGIN, 400, 400, 403, 400),
    ("companies.contact_delete", "POST"): row(LOGIN, 302, 302, 403, 302),
    ("companies.lookup", "GET"): row(LOGIN, 200, 200, 200, 200),
    # Everyone reads every visit (two units must not court a company unknowingly);
    # officers log visits for any company and edit only their own unit's.
    ("visits.index", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("visits.detail", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("visits.create", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("visits.create", "POST"): row(LOGIN, 400, 400, 403, 400),
    ("visits.edit", "GET"): row(LOGIN, 200, 403, 403, 200),
    ("visits.edit", "POST"): row(LOGIN, 400, 403, 403, 400),
    ("visits.follow_up_done", "POST"): row(LOGIN, 302, 403, 403, 302),
    ("visits.trips", "GET"): row(LOGIN, 200, 200, 200, 200),
    # The world's issue is on the officer's project and must be acted on by "other"'s
    # unit: both may close it. Leaders write instructions; the project's unit reads them.
    ("coordination.index", "GET"): row(LOGIN, 200, 200, 200, 200),
    ("coordination.issue_create", "GET"): row(LOGIN, 200, 403, 403, 200),
    ("coordination.issue_create", "POST"): row(LOGIN, 400, 403, 403, 400),
    ("coordination.issue_close", "GET"): row(LOGIN, 200, 200, 403, 200),
    ("coordination.issue_close", "POST"): row(LOGIN, 400, 400, 403, 400),
    ("coordination.instruction_create", "POST"): row(LOGIN, 403, 403, 302, 302),
    ("coordination.instruction_ack", "POST"): row(LOGIN, 302, 403, 403, 302),
}
# Routes whose bare POST is the whole action (no form to fill): allowed roles change data.
ACTIONS = {("companies.contact_delete", "POST"), ("visits.follow_up_done", "POST"),
           ("targets.delete", "POST"), ("targets.copy", "POST"),
           ("coordination.instruction_ack", "POST")}


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_in_the_policy_table(app):
    missing = [(r.endpoint, m, r.rule) for r, m in _routes(app)
               if (r.endpoint, m) not in POLICY]
    assert not missing, f"routes without an access decision in POLICY: {missing}"
    stale = set(POLICY) - {(r.endpoint, m) for r, m in _routes(app)}
    assert not stale, f"POLICY lists routes that no longer exist: {stale}"


@pytest.fixture
def world(app, users, factory):
    """A project of the officer's unit (signed) and the ids the URLs need."""
    project = factory.project("恒源光伏", unit="光伏产业园", by=users["officer"])
    from crm.lifecycle import parse_partial_date
    from crm.projects.services import advance_stage
    advance_stage(project, "signed", {"signed": parse_partial_date("2024-05-06")},
                  users["admin"], None)
    db.session.commit()
    unit = db.session.scalar(select(Unit).limit(1))
    from crm.companies.services import save_contact
    contact = save_contact(project.company, None, "金经理", "总监", "13800000000", "", None)
    from datetime import date

    from crm.visits.services import VisitData, log_visit
    visit = log_visit(VisitData(visited_on=date(2024, 5, 6), kind="visit",
                                company_name=project.company.name,
                                follow_up_on=date(2024, 6, 1)), users["officer"])
    from crm.coordination.services import raise_issue, write_instruction
    issue = raise_issue(project, "用地指标", factory.unit("区中韩办").id, None, users["admin"])
    instruction = write_instruction(project, "加快推进", users["leader"])
    from decimal import Decimal

    from crm.clock import today
    from crm.targets.services import TargetData, save_target
    # Last year's: the admin's copy (POST targets.copy) has something to copy.
    target = save_target(None, TargetData(year=today().year - 1, metric="signings",
                                          value=Decimal(20)), users["admin"])
    from crm.excel import importer, jobs
    from tests.test_excel_import import messy_ledger
    job = jobs.create_job(users["officer"], "台账.xlsx", messy_ledger())
    jobs._finish(job, jobs.READY, importer.preview(job.data, users["officer"]))
    db.session.commit()
    return {"issue_id": issue.id, "instruction_id": instruction.id, "job_id": job.id,
            "target_id": target.id,
            "company_id": project.company_id, "contact_id": contact.id, "visit_id": visit.id,
            "project_id": project.id, "user_id": users["officer"].id, "kind": "units",
            "item_id": unit.id, "code": "en", "filename": "css/app.css"}


def _url(app, rule, world):
    with app.test_request_context():
        from flask import url_for
        return url_for(rule.endpoint, **{a: world[a] for a in rule.arguments})


def _snapshot():
    """Row counts and the project's version: what a refused request must leave alone."""
    counts = tuple(db.session.scalar(select(func.count()).select_from(m))
                   for m in (Project, User, Unit, StageChange, Change, Company, Contact,
                             Visit, CoordinationIssue, Instruction))
    versions = tuple(db.session.scalars(select(Project.version).order_by(Project.id)))
    db.session.rollback()
    return counts, versions


@pytest.mark.parametrize("role", ROLES)
def test_policy_matrix_and_no_writes_on_get(app, users, world, role):
    client = app.test_client()
    if role != "anon":
        assert login(client, users[role].username).status_code == 302
    writes = []

    def on_execute(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    failures = []
    for rule, method in _routes(app):
        if (rule.endpoint, method) == ("auth.logout", "POST"):
            continue  # signs the client out; checked below, last
        url = _url(app, rule, world)
        before = _snapshot()
        event.listen(db.engine, "before_cursor_execute", on_execute)
        try:
            response = client.open(url, method=method, data={"_probe": "1"})
        finally:
            event.remove(db.engine, "before_cursor_execute", on_execute)
        expected = POLICY[(rule.endpoint, method)][role]
        if response.status_code != expected:
            failures.append(f"{method} {url}: {response.status_code} != {expected}")
        if method == "GET" and writes:
            failures.append(f"GET {url} wrote: {writes}")
        writes.clear()
        if method == "POST" and _snapshot() != before and not (
                (rule.endpoint, method) in ACTIONS and response.status_code == 302):
            failures.append(f"POST {url} with an invalid form changed the database")
    response = client.post("/logout")
    if response.status_code != POLICY[("auth.logout", "POST")][role]:
        failures.append(f"POST /logout: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_post_routes_refuse_missing_or_forged_csrf_token(make_app, users, world):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        client = app.test_client()
        # Sign in with a real token taken from the login form.
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        assert client.post("/login", data={"username": users["admin"].username,
                                           "password": "test-password-123",
                                           "csrf_token": token}).status_code == 302
        failures = []
        for rule, method in _routes(app):
            if method != "POST":
                continue
            url = _url(app, rule, world)
            for bad in (None, "forged-token", token + "x"):
                before = _snapshot()
                data = {"name": "X", "username": "x", "password": "x", "reason": "x",
                        "stage": "lead", "status": "on_hold", "status_on": "2024-01-01"}
                if bad is not None:
                    data["csrf_token"] = bad
                response = client.post(url, data=data)
                if response.status_code != 400 or "页面已过期" not in response.get_data(
                        as_text=True):
                    failures.append(f"POST {url} token={bad!r}: {response.status_code}")
                if _snapshot() != before:
                    failures.append(f"POST {url} token={bad!r} changed the database")
        assert not failures, "\n".join(failures)
        # Still signed in: the refused logout did not sign the admin out.
        assert client.get("/projects/").status_code == 200
