"""coordination issues (需协调事项) and leader instructions (领导批示) on projects

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 13:14:36.925194

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('coordination_issue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('raised_on', sa.Date(), nullable=False),
    sa.Column('acting_unit_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['acting_unit_id'], ['unit.id'], name=op.f('fk_coordination_issue_acting_unit_id_unit')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_coordination_issue_closed_by_id_user')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_coordination_issue_created_by_id_user')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_coordination_issue_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coordination_issue'))
    )
    with op.batch_alter_table('coordination_issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coordination_issue_acting_unit_id'), ['acting_unit_id'], unique=False)
        batch_op.create_index('ix_coordination_issue_open', ['closed_on', 'raised_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_coordination_issue_project_id'), ['project_id'], unique=False)

    op.create_table('instruction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user.id'], name=op.f('fk_instruction_acknowledged_by_id_user')),
    sa.ForeignKeyConstraint(['leader_id'], ['user.id'], name=op.f('fk_instruction_leader_id_user')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_instruction_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruction'))
    )
    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instruction_project_id'), ['project_id'], unique=False)




def downgrade():

    with op.batch_alter_table('instruction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instruction_project_id'))

    op.drop_table('instruction')
    with op.batch_alter_table('coordination_issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coordination_issue_project_id'))
        batch_op.drop_index('ix_coordination_issue_open')
        batch_op.drop_index(batch_op.f('ix_coordination_issue_acting_unit_id'))

    op.drop_table('coordination_issue')

