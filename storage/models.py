"""The relational schema, as SQLAlchemy 2 declarative models.

The models describe the tables for queries; the tables themselves are created by the Alembic
migrations in ``migrations/``, which also carry what the ORM cannot express (triggers, generated
columns). Constraints that protect money are declared here *and* enforced by the database.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy's documented class attribute)
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EntryKind(enum.StrEnum):
    GRANT = "grant"
    DEBIT = "debit"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer)
    rate_limit_burst: Mapped[int] = mapped_column(Integer)
    max_concurrent_jobs: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("rate_limit_per_minute > 0", name="rate_limit_positive"),
        CheckConstraint("rate_limit_burst > 0", name="burst_positive"),
        CheckConstraint("max_concurrent_jobs > 0", name="concurrency_positive"),
    )


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="default")
    display_prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class CreditAccount(Base):
    __tablename__ = "credit_accounts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)


class LedgerEntry(Base):
    """An append-only movement of credits; the balance is the sum of a tenant's entries."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        UniqueConstraint("job_id", "kind", name="one_entry_of_each_kind_per_job"),
        ForeignKeyConstraint(
            ["job_id", "tenant_id"], ["jobs.id", "jobs.tenant_id"], name="entry_matches_its_job"
        ),
        Index("ix_ledger_entries_tenant_created", "tenant_id", "created_at"),
        CheckConstraint("kind IN ('grant', 'debit', 'refund', 'adjustment')", name="known_kind"),
        CheckConstraint(
            "(kind IN ('debit', 'refund')) = (job_id IS NOT NULL)", name="job_entries_name_a_job"
        ),
        CheckConstraint(
            "(kind = 'debit' AND amount < 0) OR (kind IN ('grant', 'refund') AND amount > 0)"
            " OR (kind = 'adjustment' AND amount <> 0)",
            name="amount_sign_matches_kind",
        ),
        CheckConstraint(
            "kind NOT IN ('grant', 'adjustment') OR reason IS NOT NULL",
            name="operator_entries_have_a_reason",
        ),
    )


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    cost: Mapped[int] = mapped_column(Integer)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The light a shadow was rendered with, and its source (manual, estimated or default).
    shadow_light: Mapped[dict[str, Any] | None]
    input_key: Mapped[str] = mapped_column(Text)
    result_key: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None]
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    webhook_url: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("batches.id"))
    batch_index: Mapped[int | None] = mapped_column(Integer)
    enqueued_at: Mapped[datetime] = mapped_column(server_default=func.now())
    requeues: Mapped[int] = mapped_column(Integer, default=0)
    purged_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="known_status"
        ),
        CheckConstraint("cost > 0", name="cost_positive"),
        CheckConstraint(
            "(status = 'succeeded') = (result_key IS NOT NULL)", name="result_iff_succeeded"
        ),
        CheckConstraint("(status = 'failed') = (error_code IS NOT NULL)", name="error_iff_failed"),
        UniqueConstraint("id", "tenant_id", name="job_and_its_tenant"),
    )


class IdempotencyKey(Base):
    """A tenant's ``Idempotency-Key``: the request it first came with, and the job it made."""

    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    job_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    locked_until: Mapped[datetime | None]

    __table_args__ = (
        ForeignKeyConstraint(
            ["job_id", "tenant_id"], ["jobs.id", "jobs.tenant_id"], name="key_matches_its_job"
        ),
        CheckConstraint("length(key) > 0", name="key_not_empty"),
        Index("ix_idempotency_keys_created", "created_at"),
    )


class Batch(Base):
    """Up to 100 jobs submitted and charged together (all or nothing)."""

    __tablename__ = "batches"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    item_count: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookSecret(Base):
    """A tenant's ``whsec_`` signing secret; two are active while a rotation's grace runs."""

    __tablename__ = "webhook_secrets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    """A tenant's webhook URL that answered 410 Gone: no more deliveries until re-enabled."""

    __tablename__ = "webhook_endpoints"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    url: Mapped[str] = mapped_column(Text, primary_key=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class EventStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # the retry window ran out
    DISABLED = "disabled"  # the endpoint answered 410 Gone


class WebhookEvent(Base):
    """The outbox: one row per event, written in the transaction that finished the job."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id"))
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP delivery attempt of an event, successful or not."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    duration_ms: Mapped[int | None] = mapped_column(Integer)  # None: in flight or interrupted
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
