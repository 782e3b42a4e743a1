"""the change history's source: which import (or other non-page origin) made a change

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 19:33:57.401582

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=120), server_default='',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.drop_column('source')
