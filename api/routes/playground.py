"""The web playground: static files under ``/playground/``, and ``/`` sends browsers there.

Plain HTML, CSS and a JavaScript module committed in ``api/playground/``; nothing to build. The
page talks to this same server's public API with the key the user pastes, so it needs no
privileges of its own.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

PLAYGROUND_DIR = Path(__file__).resolve().parents[1] / "playground"

router = APIRouter(include_in_schema=False)


@router.get("/")
@router.get("/playground")
async def to_playground() -> RedirectResponse:
    return RedirectResponse("/playground/", status_code=307)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/playground", StaticFiles(directory=PLAYGROUND_DIR, html=True), name="playground")
