"""Async jobs, batches, webhook secrets and the webhook outbox.

Revision ID: 0004_async_jobs
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0004_async_jobs"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("item_count > 0", name="batch_not_empty"),
    )
    op.create_index("ix_batches_tenant_created", "batches", ["tenant_id", "created_at"])

    op.add_column("jobs", sa.Column("webhook_url", sa.Text))
    op.add_column("jobs", sa.Column("batch_id", UUID(as_uuid=True), sa.ForeignKey("batches.id")))
    op.add_column("jobs", sa.Column("batch_index", sa.Integer))
    # When the job's Celery message was last sent; the stuck-job sweeper compares against it.
    op.add_column(
        "jobs",
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.add_column("jobs", sa.Column("requeues", sa.Integer, nullable=False, server_default="0"))
    # When the retention sweeper deleted the job's input and result objects.
    op.add_column("jobs", sa.Column("purged_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_jobs_batch", "jobs", ["batch_id"], postgresql_where=sa.text("batch_id IS NOT NULL")
    )
    op.create_index(
        "ix_jobs_unpurged_finished",
        "jobs",
        ["finished_at"],
        postgresql_where=sa.text("finished_at IS NOT NULL AND purged_at IS NULL"),
    )

    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("secret LIKE 'whsec_%'", name="secret_has_prefix"),
    )
    op.create_index("ix_webhook_secrets_tenant", "webhook_secrets", ["tenant_id"])

    op.create_table(
        "webhook_endpoints",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.Text),
    )

    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("job_id", UUID(as_uuid=True), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW
        ),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'disabled')", name="known_event_status"
        ),
        sa.UniqueConstraint("job_id", "event_type", name="one_event_of_each_type_per_job"),
    )
    op.create_index(
        "ix_webhook_events_due",
        "webhook_events",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.String(64), sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer),  # null while in flight, or if the sender died
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("event_id", "attempt", name="one_row_per_attempt"),
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
    op.drop_table("webhook_secrets")
    op.drop_index("ix_jobs_unpurged_finished", table_name="jobs")
    op.drop_index("ix_jobs_batch", table_name="jobs")
    for column in (
        "purged_at",
        "requeues",
        "enqueued_at",
        "batch_index",
        "batch_id",
        "webhook_url",
    ):
        op.drop_column("jobs", column)
    op.drop_table("batches")
