"""broadcast documents

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("document_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_column("document_name")
        batch_op.drop_column("document")
