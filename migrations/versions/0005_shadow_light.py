"""jobs.shadow_light: the light a job's shadow was rendered with.

Revision ID: 0005_shadow_light
Revises: 0004_async_jobs
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005_shadow_light"
down_revision: str | None = "0004_async_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("shadow_light", JSONB, nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "shadow_light")
