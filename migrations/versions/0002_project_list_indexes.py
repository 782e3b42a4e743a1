"""indexes for the project list at city scale (100,000 projects): a unit's projects at a
stage in update order, and project name, code and investor for the text search and the
name sort (measured by `make bench`)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:50:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index('ix_project_unit_id_stage', ['unit_id', 'stage', 'updated_at'],
                              unique=False)
        batch_op.create_index('ix_project_name', ['name', 'code', 'company_id'], unique=False)


def downgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_name')
        batch_op.drop_index('ix_project_unit_id_stage')
