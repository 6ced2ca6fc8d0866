"""What the ``cutout admin`` command groups share: a database session, tenant lookup, output."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session, sessionmaker

from storage import tenants
from storage.db import make_engine, make_sessionmaker
from storage.settings import get_settings

TenantArg = Annotated[str, typer.Argument(help="Tenant name or id.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def sessions() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings()))


def tenant_id(session: Session, name_or_id: str) -> uuid.UUID:
    tenant = tenants.find_tenant(session, name_or_id)
    if tenant is None:
        typer.echo(f"no tenant {name_or_id!r}", err=True)
        raise typer.Exit(1)
    return tenant.id


def emit(payload: Any, text: str, as_json: bool) -> None:
    typer.echo(json.dumps(payload, default=str) if as_json else text)
