"""Command-line interface: ``flask --app wsgi users|demo …`` (DESIGN.md §5)."""
import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from crm.auth.services import create_user
from crm.errors import RulesBroken
from crm.extensions import db
from crm.i18n import rule_message
from crm.models import ROLES, Unit, User

users_cli = AppGroup("users", help="Manage users.")
demo_cli = AppGroup("demo", help="Demo data.")
stats_cli = AppGroup("stats", help="The dashboard's running totals.")
ledger_cli = AppGroup("ledger", help="The project ledger (台账) in Excel.")
report_cli = AppGroup("report", help="The monthly report (月报) in Excel.")


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--unit", default=None, help="Unit name (required for officers).")
@click.option("--password", default=None, help="Prompted for when omitted.")
@click.option("--display-name", default=None)
def users_create(name, role, unit, password, display_name):
    """Create a user NAME with a role and (for officers) a unit; they change the
    password at first sign-in."""
    unit_obj = None
    if unit:
        unit_obj = db.session.scalar(select(Unit).where(Unit.name == unit))
        if unit_obj is None:
            raise click.ClickException(f"单位不存在：{unit}")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        # Typed by whoever runs the command: the user replaces it at first sign-in.
        user = create_user(name, display_name or name, role, password, unit_obj, issued=True)
    except RulesBroken as exc:
        db.session.rollback()
        raise click.ClickException("; ".join(rule_message(e) for e in exc.errors)) from None
    db.session.commit()
    click.echo(f"created user {user.username} ({user.role})")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
def demo_load(if_empty):
    """Load the demo zone (idempotent) and print the demo accounts."""
    from crm.demo import DEMO_PASSWORD, USERS, load_demo

    if if_empty and db.session.scalar(select(func.count()).select_from(User)):
        click.echo("database not empty: demo data not loaded")
    else:
        created = load_demo()
        db.session.commit()
        click.echo(f"demo data: {created['projects']} projects and {created['users']} "
                   f"users added ({created['targets']} targets for this year)")
    names = set(db.session.scalars(select(User.username).where(
        User.username.in_([u[0] for u in USERS]))))
    if names:
        click.echo(f"demo accounts (password {DEMO_PASSWORD}):")
        for username, display, role, unit in USERS:
            if username in names:
                click.echo(f"  {username:10} {role:8} {display} {unit or ''}")


@stats_cli.command("rebuild")
def stats_rebuild():
    """Recompute the dashboard's running totals and each project's latest visit date
    from the projects and visits (after rows were changed outside the app, e.g. a bulk
    load in SQL; the app keeps both up to date itself)."""
    from crm.dashboard.cube import rebuild
    from crm.visits.services import sync_last_visit

    sync_last_visit(None)
    cells = rebuild(db.session.connection())
    db.session.commit()
    click.echo(f"rebuilt {cells} dashboard cells and every project's latest visit date")


@ledger_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def ledger_export(file):
    """Write every project to FILE (.xlsx) in the ledger format."""
    from crm.excel.export import ledger_rows
    from crm.excel.writer import write_ledger
    from crm.projects.queries import ProjectFilters

    with open(file, "wb") as out:
        n = write_ledger(ledger_rows(ProjectFilters(), "code"), out)
    click.echo(f"exported {n} projects to {file}")


@ledger_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and show what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows, leave out the others.")
@click.option("--confirm-new", is_flag=True,
              help="Create the new regions, industries and units the ledger names.")
@click.option("--sheet", default=None, help="The sheet to read when several hold a ledger.")
def ledger_import(file, dry_run, as_json, skip_invalid, confirm_new, sheet):
    """Import the ledger FILE (.xlsx): all rows or nothing, unless --skip-invalid. Exits
    non-zero when there are errors. Acts as an administrator."""
    import json
    import os

    from crm.excel import importer

    with open(file, "rb") as f:
        data = f.read()
    try:
        if dry_run:
            result = importer.preview(data, None, sheet, confirm_new)
        else:
            result = importer.commit(data, None, os.path.basename(file), sheet,
                                     skip_invalid, confirm_new)
            db.session.commit()
    except importer.ImportRefused as refused:
        db.session.rollback()
        result = refused.result
    if as_json:
        click.echo(json.dumps(result.summary(), ensure_ascii=False, indent=1))
    else:
        _echo_import(result, dry_run)
    if result.all_errors:
        raise SystemExit(1)


def _echo_import(result, dry_run: bool) -> None:
    """The import's outcome as text: counts, each change, warning and error."""
    from flask_babel import gettext

    from crm.excel.importer import CREATE, NEW_KINDS, UPDATE

    for plan in result.rows:
        if plan.changes and plan.action in (CREATE, UPDATE):
            changes = "，".join(f"{gettext(label)} {old} → {new}" if old else
                               f"{gettext(label)} {new}" for label, old, new in plan.changes)
            click.echo(f"第 {plan.row} 行 {plan.code or '新建'} {plan.name}：{changes}")
    for skipped in result.skipped:
        click.echo(f"第 {skipped.number} 行 跳过（{gettext(skipped.reason)}）{skipped.text}")
    for w in result.all_warnings:
        click.echo(f"提示 {w}")
    for e in result.all_errors:
        click.echo(f"错误 {e}", err=True)
    for kind, names in result.new_names.items():
        click.echo(f"新增{gettext(NEW_KINDS[kind][1])}：{'、'.join(names)}")
    s = result.summary()
    verb = "将" if dry_run or not result.committed else "已"
    click.echo(f"{verb}新建 {s['created']} 个、更新 {s['updated']} 个项目，"
               f"{s['unchanged']} 个无变化，跳过 {s['skipped']} 行，"
               f"{len(s['warnings'])} 个提示，{len(s['errors'])} 个错误"
               + ("（未导入任何数据）" if result.all_errors and not result.committed else ""))


@ledger_cli.command("template")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def ledger_template(file):
    """Write the empty ledger to FILE (.xlsx): drop-down lists and instructions."""
    from crm.excel.export import template_choices
    from crm.excel.writer import write_template

    with open(file, "wb") as out:
        write_template(out, template_choices())
    click.echo(f"wrote the ledger template to {file}")


@report_cli.command("monthly")
@click.option("--month", required=True, help="The month, YYYY-MM (e.g. 2026-10).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The workbook to write (.xlsx).")
def report_monthly(month, out):
    """Write the monthly report (月报) of MONTH to OUT, figures as of its last day."""
    import os

    from crm.clock import today
    from crm.excel.monthly import parse_month, write_monthly_report

    try:
        first = parse_month(month, today())
    except ValueError as exc:
        raise click.ClickException(f"--month {month}：{exc}") from None
    # Written beside OUT and renamed: a failed run never leaves a half-written report.
    partial = f"{out}.partial"
    try:
        with open(partial, "wb") as f:
            write_monthly_report(first, f)
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    click.echo(f"wrote the monthly report of {first:%Y-%m} to {out}")


@click.command("check-deploy")
@with_appcontext
def check_deploy():
    """Refuse an unsafe production configuration, naming each problem (exit 1)."""
    from crm.deploy import deploy_problems

    problems = deploy_problems(current_app)
    for problem in problems:
        click.echo(f"✗ {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("✓ 生产配置检查通过")


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False))
@with_appcontext
def backup_command(directory):
    """Write a consistent copy of the database into DIRECTORY while the app serves."""
    from crm.deploy import backup

    try:
        path = backup(current_app, directory)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up the database to {path}")


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    app.cli.add_command(check_deploy)
    app.cli.add_command(backup_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(stats_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(report_cli)
