"""Error answers and logs that never repeat what the client sent.

- 422: the fields (`loc`) and reasons (`type`, a short `msg`), never the input or the
  validation context; a key the model does not know is not named either.
- HTTPException keeps its code (`detail` is always a reason code of ours) and headers.
- Refusals (401, 403, 413, 422, 429) go to warehouse.api.refusals for the audit.
- Anything unexpected: `LastResort` logs the exception's type and the route template only
  (no message, no traceback, no locals) and answers a generic 500. It sits inside the
  security headers and outside everything else, so no exception reaches uvicorn's logger.
- `quiet_server_logs` keeps tracebacks and query strings out of uvicorn's own logs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.utils import is_body_allowed_for_status_code
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from warehouse.api.asgi import HttpMiddleware

log = structlog.get_logger("warehouse.api")

AUDITED_REFUSALS = frozenset({401, 403, 413, 422, 429})
# Types whose message pydantic builds from the schema alone; any other message (a custom
# validator's ValueError, say) might quote the input, so its type stands for it.
_SCHEMA_MESSAGES = re.compile(
    r"^(?!union_tag_invalid$)"  # "Input tag '<the input>' found using ..."
    r"(missing|extra_forbidden|string_(type|too_short|too_long|pattern_mismatch)"
    r"|(int|float|bool|date|datetime|list|dict|model|literal|enum|union|json|uuid)_\w+"
    r"|(greater|less)_than(_equal)?|too_(short|long)|model_type|dataclass_type"
    r"|enum|is_instance_of|finite_number|multiple_of|timezone_\w+|missing_argument|json_invalid)$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$\[\], .\-]{0,79}$")


async def note_refusal(request: Request, status_code: int, reason: str) -> None:
    """Audit a refusal (warehouse.api.refusals; blocking I/O, so off the event loop)."""
    from warehouse.api.refusals import record_refusal

    await run_in_threadpool(record_refusal, request, status_code, reason)


def safe_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors without `input`, `ctx` or `url`, and locations without client keys."""
    safe = []
    for error in errors:
        kind = str(error.get("type", "invalid"))
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        if kind == "extra_forbidden" and loc:
            loc[-1] = "(unknown field)"  # the key is the client's text
        loc = [p if isinstance(p, int) or _NAME.match(p) else "(field)" for p in loc]
        message = str(error.get("msg", ""))
        if not _SCHEMA_MESSAGES.match(kind):
            message = "invalid value"
        safe.append({"loc": loc, "type": kind, "msg": message[:200]})
    return safe


async def validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    await note_refusal(request, 422, "validation_error")
    return JSONResponse({"detail": safe_errors(list(exc.errors()))}, status_code=422)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in AUDITED_REFUSALS:
        reason = exc.detail if isinstance(exc.detail, str) else "refused"
        await note_refusal(request, exc.status_code, reason)
    headers = getattr(exc, "headers", None)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(HTTPException, http_error)


def route_template(scope: Scope) -> str:
    """The matched route's template (never the raw path: it may hold client text)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return f"{scope.get('method', '')} {path or '(no route)'}"


class LastResort(HttpMiddleware):
    """The catch-all: a generic 500, the exception's type and route in the log, nothing else."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:  # the last resort: nothing may reach the server's log
            log.error(
                "unhandled_error", error_type=type(error).__name__, route=route_template(scope)
            )
            if not started:
                response = JSONResponse({"detail": "internal_error"}, status_code=500)
                await response(scope, receive, send)


class _NoTracebacks(logging.Filter):
    """uvicorn logs a failed request or an unparsable one with its exception: keep only the
    exception's type (its message and traceback may quote the request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            error = record.exc_info[1]
            record.msg = f"{record.msg} ({type(error).__name__})"
            record.exc_info = None
            record.exc_text = None
        return True


class _NoQueryStrings(logging.Filter):
    """uvicorn's access line quotes the path with its query string: drop the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def quiet_server_logs() -> None:
    """Idempotent: filters on the server's loggers (uvicorn configures them before it imports
    the app, and dictConfig keeps filters it did not set)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi", "fastapi"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTracebacks) for f in logger.filters):
            logger.addFilter(_NoTracebacks())
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoQueryStrings) for f in access.filters):
        access.addFilter(_NoQueryStrings())
