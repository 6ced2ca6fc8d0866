"""``GET /v1/credits``: the caller's balance (an extension beyond the seed contract)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import RateLimitedCaller
from api.schemas import ErrorBody

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
    responses={
        401: {"model": ErrorBody, "description": "The authentication token is missing or invalid."},
        429: {"model": ErrorBody, "description": "Rate limit exceeded; see Retry-After."},
        503: {"model": ErrorBody, "description": "The database is unavailable; retry."},
    },
)
async def credits(caller: RateLimitedCaller) -> Credits:
    # Read with the key lookup itself: no second query.
    return Credits(balance=caller.balance)
