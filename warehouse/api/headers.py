"""Security headers on every response, and the API docs from the app's own files.

Every answer of this origin (API JSON, the viewer's files, the docs, errors) carries a strict
Content-Security-Policy (only this origin's scripts and styles, nothing inline, no eval, no
framing, no plugins, no <base>), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
no-referrer` and `Cache-Control: no-store` (patient data must not stay in a browser's or a
proxy's cache; the viewer's few files are small enough to fetch again). Pure ASGI: the
headers are added to whatever `http.response.start` the app sends, including the catch-all's
500 (warehouse.api.errors.LastResort sits inside this middleware).

Swagger UI is served from the `fastapi-offline` package's copy (no CDN: a script from
another origin on the origin of patient data is a way in) and started by a script file.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from warehouse.api.asgi import HttpMiddleware

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "Cross-Origin-Opener-Policy": "same-origin",
}
DOCS_DIR = Path(__file__).resolve().parent / "docs_ui"


class SecurityHeaders(HttpMiddleware):
    """The headers above on every HTTP response, plus Server-Timing (time inside the app,
    for clients and `make bench`)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers["Server-Timing"] = f"app;dur={elapsed_ms:.3f}"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def swagger_assets() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs: our page and start-up script, the package's bundle and CSS."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(DOCS_DIR / "index.html", media_type="text/html")

    app.mount("/docs/ui", StaticFiles(directory=DOCS_DIR), name="docs-ui")
    app.mount("/docs/assets", StaticFiles(directory=swagger_assets()), name="docs-assets")
