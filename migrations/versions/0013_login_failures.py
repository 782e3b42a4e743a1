"""login failures: the sign-in throttle's record of failed attempts by account and address

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:12:13.154412

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username_key', sa.String(length=50), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('failed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure'))
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index('ix_login_failure_account', ['username_key', 'address', 'failed_at'], unique=False)
        batch_op.create_index('ix_login_failure_address', ['address', 'failed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failure_address')
        batch_op.drop_index('ix_login_failure_account')

    op.drop_table('login_failure')
