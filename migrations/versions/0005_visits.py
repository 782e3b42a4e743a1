"""visits (走访记录) with their projects, participants, follow-up and trip

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:04:58.856397

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('city', sa.String(length=50), nullable=False),
    sa.Column('led_by_leader', sa.Boolean(), nullable=False),
    sa.Column('leader_name', sa.String(length=50), nullable=False),
    sa.Column('people_met', sa.String(length=500), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('next_steps', sa.Text(), nullable=False),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('follow_up_done_on', sa.Date(), nullable=True),
    sa.Column('trip_destination', sa.String(length=100), nullable=False),
    sa.Column('trip_start', sa.Date(), nullable=True),
    sa.Column('trip_end', sa.Date(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_visit_company_id_company')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_visit_created_by_id_user')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_visit_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_visit_idempotency_key'))
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_company_id'), ['company_id'], unique=False)
        batch_op.create_index('ix_visit_company_id_visited_on', ['company_id', 'visited_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index('ix_visit_follow_up', ['follow_up_on', 'follow_up_done_on'], unique=False)
        batch_op.create_index('ix_visit_unit_id_visited_on', ['unit_id', 'visited_on'], unique=False)
        batch_op.create_index('ix_visit_visited_on', ['visited_on', 'id'], unique=False)

    op.create_table('visit_participant',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_visit_participant_user_id_user')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_participant_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visit_id', 'user_id', name=op.f('pk_visit_participant'))
    )
    op.create_table('visit_project',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_visit_project_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_project_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visit_id', 'project_id', name=op.f('pk_visit_project'))
    )
    with op.batch_alter_table('visit_project', schema=None) as batch_op:
        batch_op.create_index('ix_visit_project_project_id', ['project_id', 'visit_id'], unique=False)




def downgrade():

    with op.batch_alter_table('visit_project', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_project_project_id')

    op.drop_table('visit_project')
    op.drop_table('visit_participant')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_visited_on')
        batch_op.drop_index('ix_visit_unit_id_visited_on')
        batch_op.drop_index('ix_visit_follow_up')
        batch_op.drop_index(batch_op.f('ix_visit_created_by_id'))
        batch_op.drop_index('ix_visit_company_id_visited_on')
        batch_op.drop_index(batch_op.f('ix_visit_company_id'))

    op.drop_table('visit')

