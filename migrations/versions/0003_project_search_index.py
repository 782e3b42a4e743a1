"""project text search: normalised search text and its bigram index, filled for the
projects already there

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:50:09.753998

"""
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('project_token',
    sa.Column('token', sa.String(length=8), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_token_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token', 'project_id', name=op.f('pk_project_token')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('project_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_token_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=False,
                                      server_default=''))
    _backfill()


# A frozen copy of crm/projects/search.py as of this revision: a migration must not
# depend on application code that changes later.
def _normalize(text):
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _backfill():
    conn = op.get_bind()
    project = sa.table("project", sa.column("id"), sa.column("name"),
                       sa.column("company_id"), sa.column("search_text"))
    company = sa.table("company", sa.column("id"), sa.column("name"))
    token = sa.table("project_token", sa.column("token"), sa.column("project_id"))
    rows = conn.execute(sa.select(project.c.id, project.c.name, company.c.name).select_from(
        project.outerjoin(company, project.c.company_id == company.c.id))).all()
    tokens = []
    for pid, name, company_name in rows:
        text = _normalize(name) + "\x1f" + _normalize(company_name)
        conn.execute(project.update().where(project.c.id == pid).values(search_text=text))
        tokens.extend({"token": t, "project_id": pid} for t in sorted(
            {part[i:i + 2] for part in text.split("\x1f") for i in range(len(part) - 1)}))
    if tokens:
        op.bulk_insert(token, tokens)


def downgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('search_text')

    with op.batch_alter_table('project_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_token_project_id'))

    op.drop_table('project_token')
