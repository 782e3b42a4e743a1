"""annual targets (招商任务): one per year, metric, unit (NULL = 全区) and region (only
for source-region signings), held by partial unique indexes where unit or region is NULL

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 14:34:20.793000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('metric', sa.String(length=20), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(metric = 'region_signings') = (region_id IS NOT NULL)", name=op.f('ck_target_region_iff_region_metric')),
    sa.CheckConstraint('value > 0', name=op.f('ck_target_value_positive')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_target_region_id_region')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_target_unit_id_unit')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_target_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_target'))
    )
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.create_index('ux_target_unit', ['year', 'metric', 'unit_id'], unique=True, sqlite_where=sa.text('region_id IS NULL'), postgresql_where=sa.text('region_id IS NULL'))
        batch_op.create_index('ux_target_unit_region', ['year', 'metric', 'unit_id', 'region_id'], unique=True)
        batch_op.create_index('ux_target_zone', ['year', 'metric'], unique=True, sqlite_where=sa.text('unit_id IS NULL AND region_id IS NULL'), postgresql_where=sa.text('unit_id IS NULL AND region_id IS NULL'))
        batch_op.create_index('ux_target_zone_region', ['year', 'metric', 'region_id'], unique=True, sqlite_where=sa.text('unit_id IS NULL'), postgresql_where=sa.text('unit_id IS NULL'))




def downgrade():

    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.drop_index('ux_target_zone_region')
        batch_op.drop_index('ux_target_zone')
        batch_op.drop_index('ux_target_unit_region')
        batch_op.drop_index('ux_target_unit')

    op.drop_table('target')
