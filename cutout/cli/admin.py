"""``cutout admin``: tenants, keys and credits, for operators."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from storage import api_keys, ledger, tenants
from storage.db import make_engine, make_sessionmaker, transaction
from storage.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Operate tenants, API keys and credits.")


def _sessions() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings()))


def _tenant_id(session: Session, name_or_id: str) -> uuid.UUID:
    tenant = tenants.find_tenant(session, name_or_id)
    if tenant is None:
        typer.echo(f"no tenant {name_or_id!r}", err=True)
        raise typer.Exit(1)
    return tenant.id


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic ``upgrade head``)."""
    from storage.migrate import upgrade

    upgrade(get_settings())
    typer.echo("database is at the latest revision")


@app.command("create-tenant")
def create_tenant(
    name: Annotated[str, typer.Option(help="Unique tenant name.")],
    credits: Annotated[int, typer.Option(min=0, help="Credits granted at creation.")] = 0,
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests per minute (default from settings).")
    ] = None,
    burst: Annotated[
        int | None, typer.Option(min=1, help="Requests at once (default: rate).")
    ] = None,
    max_concurrent_jobs: Annotated[int, typer.Option(min=1)] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Create a tenant with its first API key (shown once, never stored in plaintext)."""
    settings = get_settings()
    per_minute = rate_limit or settings.default_rate_limit_per_minute
    plan = tenants.Plan(per_minute, burst or per_minute, max_concurrent_jobs)
    with transaction(_sessions()) as session:
        tenant_id = tenants.create_tenant(session, name, plan)
        if credits:
            ledger.grant(session, tenant_id, credits, reason="initial credits")
        key = api_keys.create_key(session, tenant_id, settings.api_key_secret.get_secret_value())
    if as_json:
        typer.echo(json.dumps({"tenant_id": str(tenant_id), "api_key": key}))
    else:
        typer.echo(f"tenant {name} ({tenant_id}) created with {credits} credits")
        typer.echo(f"API key (shown once): {key}")


@app.command("grant-credits")
def grant_credits(
    tenant: Annotated[str, typer.Argument(help="Tenant name or id.")],
    amount: Annotated[int, typer.Argument(min=1)],
    reason: Annotated[str, typer.Option(help="Recorded in the ledger.")] = "operator grant",
) -> None:
    """Add credits to a tenant's balance."""
    with transaction(_sessions()) as session:
        new_balance = ledger.grant(session, _tenant_id(session, tenant), amount, reason)
    typer.echo(json.dumps({"balance": new_balance}))


@app.command()
def balance(tenant: Annotated[str, typer.Argument(help="Tenant name or id.")]) -> None:
    """Print a tenant's credit balance."""
    with transaction(_sessions()) as session:
        value = ledger.balance(session, _tenant_id(session, tenant))
    typer.echo(json.dumps({"balance": value}))


@app.command("rotate-webhook-secret")
def rotate_webhook_secret(
    tenant: Annotated[str, typer.Argument(help="Tenant name or id.")],
    grace_hours: Annotated[
        float | None,
        typer.Option(min=0, help="How long the old secret keeps signing (default from settings)."),
    ] = None,
) -> None:
    """Add a new webhook signing secret; the old one keeps signing during the grace period."""
    from datetime import timedelta

    from storage import webhook_secrets

    hours = get_settings().webhook_secret_grace_hours if grace_hours is None else grace_hours
    with transaction(_sessions()) as session:
        rows = webhook_secrets.rotate(session, _tenant_id(session, tenant), timedelta(hours=hours))
    typer.echo(
        json.dumps(
            {
                "secrets": [
                    {
                        "secret": row.secret,
                        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                    }
                    for row in rows
                ]
            }
        )
    )


@app.command()
def sweep() -> None:
    """Run the periodic sweep once: due webhooks, stuck jobs, expired inputs and results."""
    from dataclasses import asdict

    from storage.objects import ObjectStore
    from workers.celery_app import create_celery
    from workers.sweeper import sweep as run_sweep

    settings = get_settings()
    celery = create_celery(settings)
    report = run_sweep(
        settings,
        _sessions(),
        ObjectStore(settings),
        lambda task, argument: celery.send_task(task, args=[argument]),
    )
    typer.echo(json.dumps(asdict(report)))


@app.command("apply-retention")
def apply_retention() -> None:
    """Put the bucket's lifecycle rule expiring inputs and results (CUTOUT_RETENTION_HOURS)."""
    from storage.objects import ObjectStore

    settings = get_settings()
    days = ObjectStore(settings).apply_retention(settings.retention_hours)
    typer.echo(json.dumps({"bucket": settings.s3_bucket, "expiration_days": days}))
