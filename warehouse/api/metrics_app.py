"""The Prometheus scrape endpoint, `GET /metrics`, as its own small ASGI app.

It runs on its own port (`healthlink metrics serve`), apart from the physician API: a scrape
is not a physician's read, carries no session and is never audited, and the API's routes,
limits and audit stay as they are. It is protected by a bearer token
(HEALTHLINK_METRICS_TOKEN, compared in constant time); production refuses to start without
one. Values come from the ops tables at scrape time (warehouse.pipeline.metrics).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app

from warehouse.pipeline.metrics import OpsCollector
from warehouse.settings import Settings, get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_PATH = "/metrics"


class MetricsTokenMissing(RuntimeError):
    """Production serves metrics only behind a scrape token."""


def _bearer(scope: Scope) -> bytes:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization" and value[:7].lower() == b"bearer ":
            return bytes(value[7:]).strip()
    return b""


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> ASGIApp:
    """`uvicorn --factory warehouse.api.metrics_app:create_app` (what `metrics serve` runs)."""
    settings = settings or get_settings()
    token = settings.metrics_token.get_secret_value().encode("utf-8")
    if not token and settings.environment == "production":
        raise MetricsTokenMissing(
            "HEALTHLINK_METRICS_TOKEN must be set to serve /metrics in production"
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpsCollector(settings))
    exposition = make_asgi_app(registry)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] != METRICS_PATH or scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 404, b"not found\n", [])
            return
        # compare_digest: the time taken does not tell how much of a guess was right.
        if token and not hmac.compare_digest(_bearer(scope), token):
            await _answer(send, 401, b"scrape token required\n", [(b"www-authenticate", b"Bearer")])
            return
        await exposition(scope, receive, send)

    return app
