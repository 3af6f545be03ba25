"""The app: `uvicorn warehouse.api.main:app` (OpenAPI at /docs). Routers per resource."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from warehouse.api.context import ApiContext
from warehouse.api.routers import admin, auth, citizen_consent, fhir, patients, per_visit
from warehouse.api.settings import get_api_settings
from warehouse.settings import get_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(context: ApiContext | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.context.prepare()
        yield

    app = FastAPI(
        title="Health Link physician API",
        version="1.0",
        description=(
            "Read access for physicians to their patients' records from other hospitals. "
            "Identifiers travel in request bodies only; every patient read is audited."
        ),
        lifespan=lifespan,
    )
    app.state.context = context or ApiContext(get_settings(), get_api_settings())
    for module in (auth, patients, per_visit, citizen_consent, fhir, admin):
        app.include_router(module.router)

    @app.middleware("http")
    async def server_timing(request: Request, call_next: Any) -> Response:
        """Time spent inside the app, for clients and `make bench` (W3C Server-Timing)."""
        started = time.perf_counter()
        response: Response = await call_next(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.3f}"
        return response

    @app.get("/", include_in_schema=False)
    def viewer_home() -> RedirectResponse:
        return RedirectResponse("/viewer/")

    if STATIC_DIR.is_dir():
        app.mount("/viewer", StaticFiles(directory=STATIC_DIR, html=True), name="viewer")
    return app


app = create_app()
