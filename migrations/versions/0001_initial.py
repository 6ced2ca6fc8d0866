"""Tenants, API keys, the credits ledger and jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=False),
        sa.Column("rate_limit_burst", sa.Integer, nullable=False),
        sa.Column("max_concurrent_jobs", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("rate_limit_per_minute > 0", name="rate_limit_positive"),
        sa.CheckConstraint("rate_limit_burst > 0", name="burst_positive"),
        sa.CheckConstraint("max_concurrent_jobs > 0", name="concurrency_positive"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("display_prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "credit_accounts",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("balance >= 0", name="balance_not_negative"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("api_key_id", UUID(as_uuid=True), sa.ForeignKey("api_keys.id")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cost", sa.Integer, nullable=False),
        sa.Column("options", JSONB, nullable=False, server_default="{}"),
        sa.Column("input_key", sa.Text, nullable=False),
        sa.Column("result_key", sa.Text),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="known_status"
        ),
        sa.CheckConstraint("cost > 0", name="cost_positive"),
        sa.CheckConstraint(
            "(status = 'succeeded') = (result_key IS NOT NULL)", name="result_iff_succeeded"
        ),
        sa.CheckConstraint(
            "(status = 'failed') = (error_code IS NOT NULL)", name="error_iff_failed"
        ),
    )
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant_id", "created_at"])
    op.create_index(
        "ix_jobs_unfinished",
        "jobs",
        ["status", "created_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("job_id", UUID(as_uuid=True), sa.ForeignKey("jobs.id")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        # A refund points at the debit it returns: (job_id, 'debit') must exist.
        sa.Column(
            "refunds_kind",
            sa.String(16),
            sa.Computed("CASE WHEN kind = 'refund' THEN 'debit' END", persisted=True),
        ),
        sa.UniqueConstraint("job_id", "kind", name="one_entry_of_each_kind_per_job"),
        sa.ForeignKeyConstraint(
            ["job_id", "refunds_kind"],
            ["ledger_entries.job_id", "ledger_entries.kind"],
            name="refund_needs_a_debit",
        ),
        sa.CheckConstraint("kind IN ('grant', 'debit', 'refund', 'adjustment')", name="known_kind"),
        sa.CheckConstraint(
            "(kind IN ('debit', 'refund')) = (job_id IS NOT NULL)", name="job_entries_name_a_job"
        ),
        sa.CheckConstraint(
            "(kind = 'debit' AND amount < 0) OR (kind IN ('grant', 'refund') AND amount > 0)"
            " OR (kind = 'adjustment' AND amount <> 0)",
            name="amount_sign_matches_kind",
        ),
        sa.CheckConstraint(
            "kind NOT IN ('grant', 'adjustment') OR reason IS NOT NULL",
            name="operator_entries_have_a_reason",
        ),
    )
    op.create_index("ix_ledger_entries_tenant_id", "ledger_entries", ["tenant_id"])
    # The ledger is append-only: history is corrected by new entries, never rewritten.
    op.execute(
        """
        CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
        END $$;
        CREATE TRIGGER ledger_entries_append_only
            BEFORE UPDATE OR DELETE ON ledger_entries
            FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
    op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_table("ledger_entries")
    op.drop_table("jobs")
    op.drop_table("credit_accounts")
    op.drop_table("api_keys")
    op.drop_table("tenants")
