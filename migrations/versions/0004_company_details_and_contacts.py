"""company details (credit code, nature, region, city, industry, website, notes, version)
and contacts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:56:26.665666

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=50), nullable=False),
    sa.Column('email', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_contact_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact'))
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_company_id'), ['company_id'], unique=False)

    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credit_code', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('nature', sa.String(length=12), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hq_city', sa.String(length=50), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('industry_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('website', sa.String(length=200), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=False,
                                      server_default=sa.func.current_timestamp()))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default='1'))
        batch_op.create_index(batch_op.f('ix_company_industry_id'), ['industry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_company_region_id'), ['region_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_company_credit_code'), ['credit_code'])
        batch_op.create_foreign_key(batch_op.f('fk_company_industry_id_industry'), 'industry', ['industry_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_company_region_id_region'), 'region', ['region_id'], ['id'])
    company = sa.table("company", sa.column("created_at"), sa.column("updated_at"))
    op.execute(company.update().values(updated_at=company.c.created_at))


def downgrade():
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_company_region_id_region'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_company_industry_id_industry'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_company_credit_code'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_company_region_id'))
        batch_op.drop_index(batch_op.f('ix_company_industry_id'))
        batch_op.drop_column('version')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('notes')
        batch_op.drop_column('website')
        batch_op.drop_column('industry_id')
        batch_op.drop_column('hq_city')
        batch_op.drop_column('region_id')
        batch_op.drop_column('nature')
        batch_op.drop_column('credit_code')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_company_id'))

    op.drop_table('contact')
