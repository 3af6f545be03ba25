"""Request limits: the body size (413) and the request rate on patient-touching routes (429).

Both are pure ASGI middleware (no BaseHTTPMiddleware: it wraps `receive` and hides
exceptions). The body guard reads at most `body_limit_bytes` (declared by Content-Length or
streamed, chunked included) before the app sees anything, then checks a JSON body's text:
valid UTF-8, no lone surrogate, no NUL (PostgreSQL text cannot hold one), nesting that the
parser can handle. A refusal names no value.

Rate counters live in the warehouse (`api.rate_limit`), so every API worker shares them: one
atomic upsert per request (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, on DuckDB and
PostgreSQL) counts the request for its actor and for its client address. A window starts at
a counter's first request and lasts `WINDOW_SECONDS`; over the limit the answer is 429 with
`Retry-After` (seconds until the window ends). Counters are keyed by a sha256 of what they
count, so no token, address or licence is stored.

Every API route is patient-touching unless listed in `UNLIMITED_PREFIXES`: a route added
later is limited without anyone remembering to. Login has its own per-address throttle
(warehouse.api.throttle); admin routes act on accounts, not patients.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warehouse.api.asgi import HttpMiddleware
from warehouse.api.credentials import token_hash
from warehouse.api.errors import note_refusal
from warehouse.clock import storage_now
from warehouse.storage.connection import WarehouseConnection

WINDOW_SECONDS = 60
# Counters idle this long are deleted now and then (one request in CLEAN_UP_ONE_IN).
STALE_AFTER = timedelta(hours=1)
CLEAN_UP_ONE_IN = 1000
UNLIMITED_PREFIXES = ("/auth/", "/admin/", "/ratings")
SEARCH_PATHS = frozenset({"/patients/search", "/fhir/Patient/_search"})
# Deeper JSON than this is refused before the parser (and pydantic) recurse into it.
MAX_JSON_DEPTH = 64

_COUNT = """INSERT INTO api.rate_limit AS counter (bucket, window_start, hits) VALUES {rows}
ON CONFLICT (bucket) DO UPDATE SET
    hits = CASE WHEN counter.window_start > ? THEN counter.hits + 1 ELSE 1 END,
    window_start = CASE WHEN counter.window_start > ? THEN counter.window_start
                        ELSE excluded.window_start END
RETURNING bucket, window_start, hits"""


# --------------------------------------------------------------------------- body guard


def _json_refusal(message: str) -> JSONResponse:
    """Same shape as the validation handler's answer (warehouse.api.errors)."""
    return JSONResponse(
        {"detail": [{"loc": ["body"], "type": "json_invalid", "msg": message}]},
        status_code=422,
    )


def _headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    return headers


def _is_json(scope: Scope) -> bool:
    for name, value in _headers(scope):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return False


def _declared_length(scope: Scope) -> int | None:
    for name, value in _headers(scope):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_deep(text: str) -> bool:
    """Bracket depth outside strings, without recursing (the json module recurses)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _unsafe_text(value: Any) -> bool:
    """A string (key or value) anywhere in the document that cannot go to the warehouse:
    a lone surrogate (not Unicode text) or NUL."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            strings: Iterable[str] = (item,)
        elif isinstance(item, dict):
            strings = item.keys()
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
            continue
        else:
            continue
        for text in strings:
            if "\x00" in text:
                return True
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def json_body_problem(body: bytes) -> str | None:
    """Why a JSON body is refused before validation, or None (malformed JSON is left to
    FastAPI, whose error goes through the same validation handler)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if _too_deep(text):
        return "JSON nested too deeply"
    try:
        document = json.loads(text)
    except ValueError:  # JSONDecodeError, and integers beyond Python's digit limit
        return "JSON decode error"
    if _unsafe_text(document):
        return "text must be Unicode without NUL or lone surrogates"
    return None


class BodyGuard(HttpMiddleware):
    """413 above the body limit; 422 for a JSON body the warehouse could not take."""

    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        super().__init__(app)
        self.limit = limit_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _declared_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send, _too_large())
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send, _too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(scope):
            problem = json_body_problem(body)
            if problem is not None:
                await self._refuse(scope, receive, send, _json_refusal(problem))
                return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, response: JSONResponse) -> None:
        reason = "body_too_large" if response.status_code == 413 else "invalid_body"
        await note_refusal(Request(scope), response.status_code, reason)
        await response(scope, receive, send)


def _too_large() -> JSONResponse:
    # The rest of an oversized body is never read: the connection closes after the answer.
    return JSONResponse(
        {"detail": "body_too_large"}, status_code=413, headers={"Connection": "close"}
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the client's own messages (disconnect)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


# --------------------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


def bucket(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x1f{value}".encode()).hexdigest()[:40]


def count(
    conn: WarehouseConnection, limits: dict[str, int], now: datetime | None = None
) -> Verdict:
    """Count one request in each bucket (bucket -> limit) in one atomic statement."""
    now = now or storage_now()
    ordered = sorted(limits)  # one lock order for every request: no deadlock on PostgreSQL
    cutoff = now - timedelta(seconds=WINDOW_SECONDS)
    params: list[Any] = []
    for key in ordered:
        params += [key, now]
    rows = conn.execute(
        _COUNT.format(rows=", ".join("(?, ?, 1)" for _ in ordered)), [*params, cutoff, cutoff]
    ).fetchall()
    retry_after = 0
    for key, window_start, hits in rows:
        if hits > limits[key]:
            remaining = (window_start + timedelta(seconds=WINDOW_SECONDS) - now).total_seconds()
            retry_after = max(retry_after, max(1, math.ceil(remaining)))
    return Verdict(allowed=retry_after == 0, retry_after=retry_after)


def limit_class(scope: Scope) -> tuple[str, dict[str, Any]] | None:
    """("search" | "patient", the matched route's scope) for a rate-limited request, None
    for the rest (auth, admin, viewer files, docs, unknown paths)."""
    from fastapi.routing import APIRoute

    matched: tuple[APIRoute, dict[str, Any]] | None = None
    for route in scope["app"].router.routes:
        match, child_scope = route.matches(scope)
        if match == Match.NONE:
            continue
        if not isinstance(route, APIRoute):
            return None
        if match == Match.FULL:
            matched = (route, child_scope)
            break
        matched = matched or (route, child_scope)  # wrong method: 405, still counted
    if matched is None:
        return None
    route, child_scope = matched
    if route.path.startswith(UNLIMITED_PREFIXES):
        return None
    return ("search" if route.path in SEARCH_PATHS else "patient"), child_scope


def _bearer(scope: Scope) -> str | None:
    for name, value in _headers(scope):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    return None


def _actor(conn: WarehouseConnection, token: str) -> str:
    """The physician (or admin) a session belongs to, so a new login gets no new quota;
    any other bearer (a citizen's identity token, an unknown string) counts by itself."""
    hashed = token_hash(token)
    row = conn.execute(
        "SELECT kind, subject FROM api.session WHERE token_hash = ?", [hashed]
    ).fetchone()
    return f"{row[0]}:{row[1]}" if row else f"token:{hashed}"


class RateLimit(HttpMiddleware):
    """429 + Retry-After over the actor's or the address's limit on patient-touching routes."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        classified = limit_class(scope)
        if classified is None:
            await self.app(scope, receive, send)
            return
        kind, route_scope = classified
        verdict = await anyio.to_thread.run_sync(self._check, scope, kind)
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        await note_refusal(Request({**scope, **route_scope}), 429, "rate_limited")
        response = JSONResponse(
            {"detail": "rate_limited"},
            status_code=429,
            headers={"Retry-After": str(verdict.retry_after)},
        )
        await response(scope, receive, send)

    @staticmethod
    def _check(scope: Scope, kind: str) -> Verdict:
        context = scope["app"].state.context
        api = context.api
        client = scope.get("client")
        address = client[0] if client else "unknown"
        token = _bearer(scope)
        with context.connect() as conn:
            limits = {bucket("address", address): api.address_per_minute}
            if token is not None:
                per_actor = api.search_per_minute if kind == "search" else api.patient_per_minute
                limits[bucket(kind, _actor(conn, token))] = per_actor
            if random.randrange(CLEAN_UP_ONE_IN) == 0:
                conn.execute(
                    "DELETE FROM api.rate_limit WHERE window_start < ?",
                    [storage_now() - STALE_AFTER],
                )
            return count(conn, limits)
