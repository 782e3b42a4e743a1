"""the dashboard's running totals (pipeline cells, crm/dashboard/cube.py) filled from the
projects, and each project's latest visit date (stale leads) filled from the visits

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 16:48:08.045807

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pipeline_cell',
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('industry_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=12), nullable=False),
    sa.Column('since', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('cny', sa.BigInteger(), nullable=False),
    sa.Column('usd', sa.BigInteger(), nullable=False),
    sa.Column('major', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'region_id', 'month', 'unit_id', 'industry_id', 'stage', 'since', name=op.f('pk_pipeline_cell')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_visit_on', sa.Date(), nullable=True))
        batch_op.drop_index('ix_project_stage_created')
        batch_op.create_index('ix_project_stage_created', ['stage', 'status', 'created_at', 'last_visit_on', 'unit_id', 'industry_id', 'status_on', 'signed_on', 'started_on', 'producing_on', 'at_capacity_on'], unique=False)
    op.execute(
        "UPDATE project SET last_visit_on = (SELECT max(visit.visited_on) FROM visit "
        "JOIN visit_project ON visit_project.visit_id = visit.id "
        "WHERE visit_project.project_id = project.id)")
    # The cells of the projects already there, by the code that keeps them (it reads
    # only columns that exist since 0001 and the settings table).
    from crm.dashboard.cube import rebuild
    rebuild(op.get_bind())


def downgrade():
    op.drop_table('pipeline_cell')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_stage_created')
        batch_op.drop_column('last_visit_on')
        batch_op.create_index('ix_project_stage_created', ['stage', 'status', 'created_at', 'unit_id'], unique=False)
