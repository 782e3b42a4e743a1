"""Command-line interface: ``flask --app wsgi users|demo …`` (DESIGN.md §5)."""
import click
from flask import Flask
from flask.cli import AppGroup
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


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--unit", default=None, help="Unit name (required for officers).")
@click.option("--password", default=None, help="Prompted for when omitted.")
@click.option("--display-name", default=None)
def users_create(name, role, unit, password, display_name):
    """Create a user NAME with a role and (for officers) a unit."""
    unit_obj = None
    if unit:
        unit_obj = db.session.scalar(select(Unit).where(Unit.name == unit))
        if unit_obj is None:
            raise click.ClickException(f"单位不存在：{unit}")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(name, display_name or name, role, password, unit_obj)
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


@ledger_cli.command("template")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def ledger_template(file):
    """Write the empty ledger to FILE (.xlsx): drop-down lists and instructions."""
    from crm.excel.export import template_choices
    from crm.excel.writer import write_template

    with open(file, "wb") as out:
        write_template(out, template_choices())
    click.echo(f"wrote the ledger template to {file}")


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(stats_cli)
    app.cli.add_command(ledger_cli)
