"""``GET /v1/credits``: the caller's balance (an extension beyond the seed contract)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import RateLimitedCaller, ServicesDep
from api.error_docs import ACCOUNT_ERRORS, error_responses
from storage import ledger
from storage.error_codes import ErrorCode

router = APIRouter(tags=["credits"])


class Credits(BaseModel):
    balance: int = Field(
        description=(
            "Credits available to the caller's tenant now. A job costs 1 credit, 4 with a shadow;"
            " a failed job is refunded."
        ),
        examples=[96],
    )


@router.get(
    "/v1/credits",
    summary="Credit balance",
    description="The balance of the tenant that owns the API key. Counts against the rate limit.",
    response_model=Credits,
    responses=error_responses(
        (*ACCOUNT_ERRORS, ErrorCode.RATE_LIMIT_EXCEEDED, ErrorCode.SERVICE_UNAVAILABLE)
    ),
)
async def credits(caller: RateLimitedCaller, services: ServicesDep) -> Credits:
    # Read now, not with the key: keys are cached for a few seconds, balances change per job.
    async with services.sessions() as session:
        return Credits(balance=await session.run_sync(ledger.balance, caller.tenant_id))
