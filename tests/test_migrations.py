"""The migration chain: one head, upgrade on an empty database matches the models,
downgrade and upgrade again, and the default reference data is there."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from crm.extensions import db
from crm.models import Industry, Region, Setting, Unit


def _script(app):
    return ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())


def test_single_head(app):
    assert len(_script(app).get_heads()) == 1


def test_upgraded_schema_matches_models(app):
    # The test database was built by `flask db upgrade` (see conftest): no diff left,
    # which is what `flask db check` verifies.
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                db.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(app):
    downgrade(revision="base")
    with db.engine.connect() as conn:
        tables = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    assert db.session.scalar(select(Region).where(Region.name == "上海")) is not None


def test_default_reference_data(app):
    shanghai = db.session.scalar(select(Region).where(Region.name == "上海"))
    assert shanghai.parent.name == "长三角"
    assert shanghai.parent.parent.name == "国内省外"
    korea = db.session.scalar(select(Region).where(Region.name == "韩国"))
    assert korea.parent.name == "境外"
    units = set(db.session.scalars(select(Unit.name)))
    assert {"区中韩办", "区经发局", "区住建局", "光伏产业园", "新能源汽车产业园"} <= units
    industries = list(db.session.scalars(select(Industry.name).order_by(Industry.sort_order)))
    assert industries[0] == "汽车及零部件" and industries[-1] == "其他"
    assert len(industries) == 11
    assert db.session.get(Setting, "usd_cny_rate").value == "7.1"


def test_search_index_migration_fills_existing_projects(app):
    from sqlalchemy import text

    from crm.projects.search import bigrams, search_text
    downgrade(revision="0002")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO company (name, name_key, created_at) "
                          "VALUES ('ＳＫ On', 'skon', '2024-01-01')"))
        conn.execute(text(
            "INSERT INTO project (code, name, company_id, content, capacity_unit, "
            "investment_currency, leader_name, stage, status, status_reason, "
            "partial_production, notes, created_at, updated_at, version) VALUES "
            "('P2024-0001', 'SK 27GWh 动力电池', (SELECT id FROM company), '', '', 'CNY', "
            "'', 'lead', 'active', '', false, '', '2024-01-01', '2024-01-01', 1)"))
    upgrade()
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT search_text FROM project")).scalar_one()
        tokens = set(conn.execute(text("SELECT token FROM project_token")).scalars())
    # The migration's frozen copy agrees with the application's code.
    assert stored == search_text("SK 27GWh 动力电池", "ＳＫ On")
    assert tokens == bigrams(stored)


def test_name_key_migration_fills_existing_projects(app):
    from sqlalchemy import text

    from crm.models import Project
    from crm.text import normalize
    downgrade(revision="0015")
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO project (code, name, content, capacity_unit, investment_currency, "
            "leader_name, stage, status, status_reason, partial_production, notes, "
            "search_text, created_at, updated_at, version) VALUES "
            "('P2024-0001', ' ＳＫ 27GWh 动力电池', '', '', 'CNY', '', 'lead', 'active', '', "
            "false, '', '', '2024-01-01', '2024-01-01', 1)"))
    upgrade()
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT name_key FROM project")).scalar_one()
    # The migration's frozen copy agrees with the application's code.
    assert stored == normalize(" ＳＫ 27GWh 动力电池") == "sk27gwh动力电池"
    # And the application keeps it with the name, through the ORM and without it.
    project = db.session.scalar(select(Project))
    project.name = "恒源 光伏"
    db.session.flush()
    db.session.execute(Project.__table__.insert().values(
        code="P2024-0002", name="Ａb 项目", content="", capacity_unit="", leader_name="",
        stage="lead", status="active", status_reason="", notes="", search_text=""))
    keys = db.session.execute(select(Project.code, Project.name_key).order_by(Project.code))
    assert keys.all() == [("P2024-0001", "恒源光伏"), ("P2024-0002", "ab项目")]


def test_downgrade_and_upgrade_keep_existing_data(app):
    # Batch migrations recreate tables on SQLite: with projects pointing at companies,
    # foreign keys must survive (env.py switches them off for the copy, then checks).
    from crm.demo import load_demo
    from crm.models import Company, Project
    load_demo()
    db.session.commit()
    before = (db.session.scalar(select(db.func.count()).select_from(Project)),
              db.session.scalar(select(db.func.count()).select_from(Company)))
    db.session.remove()
    downgrade(revision="0003")
    upgrade()
    after = (db.session.scalar(select(db.func.count()).select_from(Project)),
             db.session.scalar(select(db.func.count()).select_from(Company)))
    assert after == before
    linked = db.session.scalar(select(db.func.count()).select_from(Project).where(
        Project.company_id.is_not(None)))
    assert linked == before[0]
