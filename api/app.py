"""The FastAPI application factory: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from api import errors
from api.metrics import MetricsMiddleware
from api.metrics import router as metrics_router
from api.refusal_fast_path import RefusalFastPath
from api.request_context import RequestContextMiddleware
from api.routes import batches, credits, health, jobs, playground, remove_background, webhooks
from api.schemas import JsonBody, MultipartBody
from api.services import Services
from storage import logs
from storage.settings import Settings, get_settings

# Multipart framing around a 25 MB file is small; anything beyond this margin is refused early.
MULTIPART_OVERHEAD_BYTES = 256 * 1024


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not logging.getLogger().handlers:
        # `cutout serve --workers N` starts each API process with uvicorn's spawn, which does
        # not inherit the structured logging the CLI configured: without this its logs would
        # be Python's bare fallback (warnings only, plain text).
        logs.configure(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await Services.start(settings)
        try:
            yield
        finally:
            await app.state.services.close()

    app = FastAPI(
        title="Cutout",
        version="0.1.0",
        summary="Background removal speaking Pixelcut's /v1/remove-background contract.",
        lifespan=lifespan,
    )
    app.add_middleware(RefusalFastPath)  # innermost of ours: inside request context and metrics
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_image_bytes + MULTIPART_OVERHEAD_BYTES,
        path_limits={"/v1/batches": settings.max_batch_body_bytes},
    )
    app.add_middleware(MetricsMiddleware)
    errors.install(app)
    app.include_router(remove_background.router)
    app.include_router(jobs.router)
    app.include_router(batches.router)
    app.include_router(webhooks.router)
    app.include_router(credits.router)
    app.include_router(health.router)
    app.include_router(metrics_router)
    playground.install(app)
    _document_request_bodies(app)
    return app


def _document_request_bodies(app: FastAPI) -> None:
    """Add the hand-parsed request bodies' schemas to the generated OpenAPI document."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _, definitions = models_json_schema(
                [(JsonBody, "validation"), (MultipartBody, "validation")],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                definitions["$defs"]
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
