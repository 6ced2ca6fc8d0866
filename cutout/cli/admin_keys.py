"""``cutout admin keys``: several API keys per tenant, shown once, revocable at once."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from cutout.cli.admin_common import JsonFlag, TenantArg, emit, sessions, tenant_id
from storage import api_keys, key_notices
from storage.db import transaction
from storage.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")


def new_key(session: Session, tenant_id: uuid.UUID, name: str) -> str:
    secret = get_settings().api_key_secret.get_secret_value()
    return api_keys.create_key(session, tenant_id, secret, name=name)


@app.command("create")
def create(
    tenant: TenantArg,
    name: Annotated[str, typer.Option(help="A label, e.g. the system that uses it.")] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Create another key for a tenant; it is printed once and stored only as a keyed hash."""
    with transaction(sessions()) as session:
        key = new_key(session, tenant_id(session, tenant), name)
    emit({"api_key": key, "name": name}, f"API key (shown once): {key}", as_json)


@app.command("list")
def list_keys(tenant: TenantArg, as_json: JsonFlag = False) -> None:
    """A tenant's keys: id, name, prefix, created, revoked, last used. Never the key."""
    with transaction(sessions()) as session:
        keys = api_keys.list_keys(session, tenant_id(session, tenant))
    rows = [
        {
            "id": str(key.id),
            "name": key.name,
            "prefix": key.display_prefix,
            "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at and key.revoked_at.isoformat(),
            "last_used_at": key.last_used_at and key.last_used_at.isoformat(),
        }
        for key in keys
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        typer.echo(
            f"{row['id']}  {row['prefix']}…  {row['name']}  {state}"
            f"  last used {row['last_used_at'] or 'never'}"
        )


@app.command("revoke")
def revoke(
    tenant: TenantArg,
    key: Annotated[str, typer.Argument(help="Key id, or its prefix as listed.")],
) -> None:
    """Revoke a key; every API process refuses it from the next request on (see docs/billing.md)."""
    with transaction(sessions()) as session:
        key_id = api_keys.find_key_id(session, tenant_id(session, tenant), key)
        if key_id is None or not api_keys.revoke_key(session, key_id):
            typer.echo(f"no active key {key!r} for {tenant!r}", err=True)
            raise typer.Exit(1)
    # After the commit: every API process forgets the key now (else within its cache's TTL).
    key_notices.announce(get_settings(), key_notices.KEY, key_id)
    typer.echo(json.dumps({"revoked": str(key_id)}))
