"""``cutout admin``: tenants, plans, keys and credits, for operators.

Every command prints JSON with ``--json`` (for scripts) and a readable line otherwise. Keys are
shown exactly once, when created; listings show only their display prefix.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cutout.cli import admin_keys
from cutout.cli.admin_common import JsonFlag, TenantArg, emit, sessions, tenant_id
from storage import key_notices, ledger, ledger_audit, tenants
from storage.db import transaction
from storage.ledger import InsufficientCredits
from storage.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Operate tenants, API keys and credits.")
tenants_app = typer.Typer(no_args_is_help=True, help="Create and list tenants.")
app.add_typer(tenants_app, name="tenants")
app.add_typer(admin_keys.app, name="keys")


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic ``upgrade head``)."""
    from storage.migrate import upgrade

    upgrade(get_settings())
    typer.echo("database is at the latest revision")


@tenants_app.command("create")
def create_tenant(
    name: Annotated[str, typer.Option(help="Unique tenant name.")],
    credits: Annotated[int, typer.Option(min=0, help="Credits granted at creation.")] = 0,
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests per minute (default from settings).")
    ] = None,
    burst: Annotated[
        int | None, typer.Option(min=1, help="Requests at once (default: rate).")
    ] = None,
    max_concurrent_jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Jobs in flight at once, on every endpoint. A batch takes one per item, so the "
            "default is CUTOUT_MAX_BATCH_ITEMS: a tenant can send the largest batch.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant with its first API key (shown once, never stored in plaintext)."""
    settings = get_settings()
    per_minute = rate_limit or settings.default_rate_limit_per_minute
    plan = tenants.Plan(
        per_minute, burst or per_minute, max_concurrent_jobs or settings.max_batch_items
    )
    with transaction(sessions()) as session:
        new_id = tenants.create_tenant(session, name, plan)
        if credits:
            ledger.grant(session, new_id, credits, reason="initial credits")
        key = admin_keys.new_key(session, new_id, "default")
    emit(
        {"tenant_id": str(new_id), "api_key": key},
        f"tenant {name} ({new_id}) created with {credits} credits\nAPI key (shown once): {key}",
        as_json,
    )


# The foundation's name for `tenants create`, kept for existing scripts.
app.command("create-tenant", hidden=True)(create_tenant)


@tenants_app.command("list")
def list_tenants(as_json: JsonFlag = False) -> None:
    """Every tenant with its plan, balance and number of active keys."""
    with transaction(sessions()) as session:
        rows = tenants.list_tenants(session)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": str(row.id),
                        "name": row.name,
                        "balance": row.balance,
                        "rate_limit_per_minute": row.plan.rate_limit_per_minute,
                        "rate_limit_burst": row.plan.rate_limit_burst,
                        "max_concurrent_jobs": row.plan.max_concurrent_jobs,
                        "active_keys": row.active_keys,
                    }
                    for row in rows
                ]
            )
        )
        return
    for row in rows:
        plan = row.plan
        typer.echo(
            f"{row.id}  {row.name}  balance={row.balance}  {plan.rate_limit_per_minute}/min"
            f" burst={plan.rate_limit_burst} jobs<={plan.max_concurrent_jobs}"
            f" keys={row.active_keys}"
        )


@app.command("set-plan")
def set_plan(
    tenant: TenantArg,
    rate_limit: Annotated[int | None, typer.Option(min=1, help="Requests per minute.")] = None,
    burst: Annotated[int | None, typer.Option(min=1, help="Requests at once.")] = None,
    max_concurrent_jobs: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's limits; they apply from its next request."""
    if rate_limit is burst is max_concurrent_jobs is None:
        typer.echo("name at least one of --rate-limit, --burst, --max-concurrent-jobs", err=True)
        raise typer.Exit(2)
    with transaction(sessions()) as session:
        changed = tenant_id(session, tenant)
        plan = tenants.set_plan(
            session,
            changed,
            rate_limit_per_minute=rate_limit,
            rate_limit_burst=burst,
            max_concurrent_jobs=max_concurrent_jobs,
        )
    # After the commit: API processes drop the tenant's cached keys, so the plan applies now.
    key_notices.announce(get_settings(), key_notices.TENANT, changed)
    payload = {
        "rate_limit_per_minute": plan.rate_limit_per_minute,
        "rate_limit_burst": plan.rate_limit_burst,
        "max_concurrent_jobs": plan.max_concurrent_jobs,
    }
    emit(payload, " ".join(f"{k}={v}" for k, v in payload.items()), as_json)


@app.command()
def grant(
    tenant: TenantArg,
    amount: Annotated[int, typer.Argument(min=1)],
    reason: Annotated[str, typer.Option(help="Recorded in the ledger.")] = "operator grant",
) -> None:
    """Add credits to a tenant's balance (a purchase, a trial)."""
    with transaction(sessions()) as session:
        new_balance = ledger.grant(session, tenant_id(session, tenant), amount, reason)
    typer.echo(json.dumps({"balance": new_balance}))


# The foundation's name for `grant`, kept for existing scripts.
app.command("grant-credits", hidden=True)(grant)


# Unknown options pass through as arguments, so a negative amount (`-20`) is not an option.
@app.command(context_settings={"ignore_unknown_options": True})
def adjust(
    tenant: TenantArg,
    amount: Annotated[int, typer.Argument(help="Credits to add (or remove, when negative).")],
    reason: Annotated[str, typer.Option(help="Why; recorded in the ledger.")],
) -> None:
    """Correct a balance in either direction, with a reason; never below zero."""
    if amount == 0:
        typer.echo("an adjustment changes the balance", err=True)
        raise typer.Exit(2)
    try:
        with transaction(sessions()) as session:
            new_balance = ledger.adjust(session, tenant_id(session, tenant), amount, reason)
    except InsufficientCredits:
        typer.echo("refused: the balance would go below zero", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({"balance": new_balance}))


@app.command()
def balance(tenant: TenantArg) -> None:
    """Print a tenant's credit balance."""
    with transaction(sessions()) as session:
        value = ledger.balance(session, tenant_id(session, tenant))
    typer.echo(json.dumps({"balance": value}))


@app.command()
def usage(
    tenant: TenantArg,
    days: Annotated[int, typer.Option(min=1, help="How many days back.")] = 30,
    as_json: JsonFlag = False,
) -> None:
    """Per UTC day: jobs charged, credits debited, credits refunded."""
    with transaction(sessions()) as session:
        rows = ledger_audit.usage_per_day(session, tenant_id(session, tenant), days)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "day": row.day.isoformat(),
                        "jobs": row.jobs,
                        "debited": row.debited,
                        "refunded": row.refunded,
                    }
                    for row in rows
                ]
            )
        )
        return
    typer.echo("day         jobs  debited  refunded")
    for row in rows:
        typer.echo(f"{row.day}  {row.jobs:>5}  {row.debited:>7}  {row.refunded:>8}")


@app.command()
def reconcile() -> None:
    """Prove every balance equals the sum of its ledger entries; exit 1 if one does not."""
    with transaction(sessions()) as session:
        checked, mismatches = ledger_audit.reconcile(session)
    for bad in mismatches:
        typer.echo(
            f"MISMATCH tenant {bad.name} ({bad.tenant_id}): balance {bad.balance},"
            f" entries sum to {bad.entries_total}",
            err=True,
        )
    if mismatches:
        raise typer.Exit(1)
    typer.echo(f"{checked} accounts reconciled: every balance equals the sum of its entries")


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
    with transaction(sessions()) as session:
        rows = webhook_secrets.rotate(session, tenant_id(session, tenant), timedelta(hours=hours))
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

    import redis

    from storage.objects import ObjectStore
    from workers.celery_app import create_celery
    from workers.sweeper import sweep as run_sweep

    settings = get_settings()
    celery = create_celery(settings)
    report = run_sweep(
        settings,
        sessions(),
        ObjectStore(settings),
        lambda task, argument, queue: celery.send_task(task, args=[argument], queue=queue),
        redis.Redis.from_url(settings.redis_url, socket_timeout=5),
    )
    typer.echo(json.dumps(asdict(report)))


@app.command("apply-retention")
def apply_retention() -> None:
    """Put the bucket's lifecycle rule expiring inputs and results (CUTOUT_RETENTION_HOURS)."""
    from storage.objects import ObjectStore

    settings = get_settings()
    days = ObjectStore(settings).apply_retention(settings.retention_hours)
    typer.echo(json.dumps({"bucket": settings.s3_bucket, "expiration_days": days}))
