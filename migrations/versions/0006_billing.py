"""Billing: ledger entries tied to their job's tenant, idempotency keys, usage index.

Revision ID: 0006_billing
Revises: 0005_shadow_light
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0006_billing"
down_revision: str | None = "0005_shadow_light"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A debit or refund is charged to the tenant that owns the job, never to another one.
    op.create_unique_constraint("job_and_its_tenant", "jobs", ["id", "tenant_id"])
    op.create_foreign_key(
        "entry_matches_its_job",
        "ledger_entries",
        "jobs",
        ["job_id", "tenant_id"],
        ["id", "tenant_id"],
    )
    # Usage per day and reconciliation read a tenant's entries in time order.
    op.drop_index("ix_ledger_entries_tenant_id", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_entries_tenant_created", "ledger_entries", ["tenant_id", "created_at"]
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("job_id", UUID(as_uuid=True)),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="idempotency_keys_pkey"),
        sa.ForeignKeyConstraint(
            ["job_id", "tenant_id"], ["jobs.id", "jobs.tenant_id"], name="key_matches_its_job"
        ),
        sa.CheckConstraint("length(key) > 0", name="key_not_empty"),
    )
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_ledger_entries_tenant_created", table_name="ledger_entries")
    op.create_index("ix_ledger_entries_tenant_id", "ledger_entries", ["tenant_id"])
    op.drop_constraint("entry_matches_its_job", "ledger_entries", type_="foreignkey")
    op.drop_constraint("job_and_its_tenant", "jobs", type_="unique")
