"""A tenant's webhook settings: its signing secrets (and their rotation) and its endpoints
disabled after answering 410 Gone."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import CallerDep, ServicesDep
from api.error_docs import ACCOUNT_ERRORS, error_responses
from api.errors import ApiError
from api.remove_request import json_object
from api.schemas import WebhookSecrets
from storage import outbox, webhook_secrets
from storage.error_codes import ErrorCode
from storage.models import WebhookSecret

router = APIRouter(tags=["webhooks"], responses=error_responses(ACCOUNT_ERRORS))


def _secrets_body(rows: list[WebhookSecret]) -> dict[str, object]:
    return {
        "secrets": [
            {
                "secret": row.secret,
                "created_at": row.created_at.isoformat(),
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            }
            for row in rows
        ]
    }


@router.get(
    "/v1/webhooks/secrets",
    summary="Webhook signing secrets",
    description="The active `whsec_` secrets, newest first (the first one is created on demand).",
    response_model=WebhookSecrets,
)
async def list_secrets(caller: CallerDep, services: ServicesDep) -> JSONResponse:
    async with services.sessions.begin() as session:
        rows = await session.run_sync(webhook_secrets.active, caller.tenant_id)
    return JSONResponse(_secrets_body(rows))


@router.post(
    "/v1/webhooks/secrets/rotate",
    summary="Rotate the webhook signing secret",
    description=(
        "Adds a new secret. The previous ones keep signing (a second signature in"
        " `webhook-signature`) for `CUTOUT_WEBHOOK_SECRET_GRACE_HOURS` (24 h), so receivers can"
        " switch without missing an event."
    ),
    response_model=WebhookSecrets,
)
async def rotate_secret(caller: CallerDep, services: ServicesDep) -> JSONResponse:
    grace = timedelta(hours=services.settings.webhook_secret_grace_hours)
    async with services.sessions.begin() as session:
        rows = await session.run_sync(webhook_secrets.rotate, caller.tenant_id, grace)
    return JSONResponse(_secrets_body(rows))


@router.get(
    "/v1/webhooks/disabled-endpoints",
    summary="Webhook URLs disabled after a 410 Gone",
)
async def list_disabled(caller: CallerDep, services: ServicesDep) -> JSONResponse:
    async with services.sessions() as session:
        rows = await session.run_sync(outbox.disabled_endpoints, caller.tenant_id)
    return JSONResponse(
        {
            "endpoints": [
                {
                    "url": row.url,
                    "disabled_at": row.disabled_at.isoformat() if row.disabled_at else None,
                    "reason": row.disabled_reason,
                }
                for row in rows
            ]
        }
    )


@router.post(
    "/v1/webhooks/disabled-endpoints/enable",
    summary="Re-enable a webhook URL",
    description='Body `{"url": ...}`: events of jobs that finish from now on are delivered again.',
    responses=error_responses((ErrorCode.INVALID_REQUEST_BODY, ErrorCode.MISSING_PARAMETER)),
)
async def enable_endpoint(
    request: Request, caller: CallerDep, services: ServicesDep
) -> JSONResponse:
    url = (await json_object(request)).get("url")
    if not isinstance(url, str):
        raise ApiError(ErrorCode.MISSING_PARAMETER, "Missing required parameter: url.")
    async with services.sessions.begin() as session:
        await session.run_sync(outbox.set_endpoint_disabled, caller.tenant_id, url, None)
    return JSONResponse({"url": url, "enabled": True})
