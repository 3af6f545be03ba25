"""The app: `uvicorn warehouse.api.main:app` (OpenAPI at /openapi.json, Swagger UI at /docs).
Routers per resource; the middleware, outermost first: security headers
(warehouse.api.headers), the catch-all (warehouse.api.errors), the body guard and the rate
limit (warehouse.api.limits)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from warehouse.api import errors, headers, limits
from warehouse.api.config import get_api_settings
from warehouse.api.context import ApiContext
from warehouse.api.routers import admin, auth, citizen_consent, fhir, ops, patients, per_visit
from warehouse.settings import get_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(context: ApiContext | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.context.prepare()
        try:
            yield
        finally:
            app.state.context.close()

    errors.quiet_server_logs()
    context = context or ApiContext(get_settings(), get_api_settings())
    app = FastAPI(
        title="Health Link physician API",
        version="1.0",
        description=(
            "Read access for physicians to their patients' records from other hospitals. "
            "Identifiers travel in request bodies only; every patient read is audited."
        ),
        lifespan=lifespan,
        docs_url=None,  # the default pages load Swagger UI and ReDoc from a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.context = context
    for module in (auth, patients, per_visit, citizen_consent, fhir, admin, ops):
        app.include_router(module.router)
    errors.install_handlers(app)
    # add_middleware puts each one outside the ones added before it.
    app.add_middleware(limits.RateLimit)
    app.add_middleware(limits.BodyGuard, limit_bytes=context.api.body_limit_bytes)
    app.add_middleware(errors.LastResort)
    app.add_middleware(headers.SecurityHeaders)
    _document_refusals(app)

    @app.get("/", include_in_schema=False)
    def viewer_home() -> RedirectResponse:
        return RedirectResponse("/viewer/")

    if context.api.docs_enabled:
        headers.mount_docs(app)
    if STATIC_DIR.is_dir():
        app.mount("/viewer", StaticFiles(directory=STATIC_DIR, html=True), name="viewer")
    return app


def _document_refusals(app: FastAPI) -> None:
    """Add the middleware's answers to the OpenAPI document: 413 and 422 wherever a body is
    read, 429 on every rate-limited route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    responses.setdefault("413", {"description": "body_too_large"})
                    responses.setdefault("422", {"description": "Validation Error"})
                if not path.startswith(limits.UNLIMITED_PREFIXES):
                    responses.setdefault(
                        "429", {"description": "rate_limited (see the Retry-After header)"}
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
