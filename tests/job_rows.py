"""Reading what a client actually asked for: the options stored on a tenant's job rows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Job


def shadow_options(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> list[Any]:
    """Each job's ``options["shadow"]``, oldest first (None for a job without a shadow)."""
    with sessions() as session:
        rows = session.scalars(
            select(Job.options).where(Job.tenant_id == tenant_id).order_by(Job.created_at)
        )
        return [options.get("shadow") for options in rows]
