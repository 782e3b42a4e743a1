"""dashboard indexes measured by make bench at 100,000 projects: the live pipeline, each
milestone's range and the leads by age read from narrow covering indexes; the largest
projects per currency

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 15:01:58.070161

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_at_capacity_on'))
        batch_op.drop_index(batch_op.f('ix_project_producing_on'))
        batch_op.drop_index(batch_op.f('ix_project_signed_on'))
        batch_op.drop_index(batch_op.f('ix_project_started_on'))
        batch_op.create_index('ix_project_at_capacity_on_cover', ['at_capacity_on', 'stage', 'status', 'unit_id', 'industry_id', 'investment_currency', 'investment_amount'], unique=False)
        batch_op.create_index('ix_project_currency_amount', ['investment_currency', 'investment_amount'], unique=False)
        batch_op.create_index('ix_project_pipeline', ['unit_id', 'industry_id', 'stage', 'status', 'status_on', 'created_at', 'signed_on', 'started_on', 'producing_on', 'at_capacity_on', 'investment_currency', 'investment_amount'], unique=False)
        batch_op.create_index('ix_project_producing_on_cover', ['producing_on', 'stage', 'status', 'unit_id', 'industry_id', 'investment_currency', 'investment_amount'], unique=False)
        batch_op.create_index('ix_project_signed_on_cover', ['signed_on', 'stage', 'status', 'unit_id', 'industry_id', 'investment_currency', 'investment_amount'], unique=False)
        batch_op.create_index('ix_project_stage_created', ['stage', 'status', 'created_at', 'unit_id'], unique=False)
        batch_op.create_index('ix_project_started_on_cover', ['started_on', 'stage', 'status', 'unit_id', 'industry_id', 'investment_currency', 'investment_amount'], unique=False)



def downgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_started_on_cover')
        batch_op.drop_index('ix_project_stage_created')
        batch_op.drop_index('ix_project_signed_on_cover')
        batch_op.drop_index('ix_project_producing_on_cover')
        batch_op.drop_index('ix_project_pipeline')
        batch_op.drop_index('ix_project_currency_amount')
        batch_op.drop_index('ix_project_at_capacity_on_cover')
        batch_op.create_index(batch_op.f('ix_project_started_on'), ['started_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_signed_on'), ['signed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_producing_on'), ['producing_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_at_capacity_on'), ['at_capacity_on'], unique=False)

