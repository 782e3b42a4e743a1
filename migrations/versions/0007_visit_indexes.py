"""indexes for visits at city scale (1,000,000 visits, measured by make bench): a user's
participations, a unit's visits by kind, trips by dates, unread instructions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:56:40.716519

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():

    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.create_index('ix_instruction_unread', ['acknowledged_at', 'created_at'], unique=False)

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_company_id'))
        batch_op.create_index('ix_visit_trip', ['trip_start', 'trip_end'], unique=False)
        batch_op.create_index('ix_visit_unit_id_kind', ['unit_id', 'kind', 'visited_on'], unique=False)

    with op.batch_alter_table('visit_participant', schema=None) as batch_op:
        batch_op.create_index('ix_visit_participant_user_id', ['user_id', 'visit_id'], unique=False)




def downgrade():

    with op.batch_alter_table('visit_participant', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_participant_user_id')

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_unit_id_kind')
        batch_op.drop_index('ix_visit_trip')
        batch_op.create_index(batch_op.f('ix_visit_company_id'), ['company_id'], unique=False)

    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.drop_index('ix_instruction_unread')


