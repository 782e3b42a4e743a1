"""project name key: the normalised name a ledger row finds its project by, filled for
the projects already there

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 00:28:57.582306

"""
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.Text(), nullable=False, server_default=''))
    _backfill()
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_name_key'), ['name_key'], unique=False)


# A frozen copy of crm/text.py's normalize as of this revision: a migration must not
# depend on application code that changes later.
def _normalize(text):
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _backfill():
    conn = op.get_bind()
    project = sa.table("project", sa.column("id"), sa.column("name"), sa.column("name_key"))
    rows = conn.execute(sa.select(project.c.id, project.c.name)).all()
    update = (project.update().where(project.c.id == sa.bindparam("pid"))
              .values(name_key=sa.bindparam("key")))
    for i in range(0, len(rows), 5000):
        conn.execute(update, [{"pid": pid, "key": _normalize(name)}
                              for pid, name in rows[i:i + 5000]])


def downgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_name_key'))
        batch_op.drop_column('name_key')
