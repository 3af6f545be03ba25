"""A Bulk Data server for the connector tests: real HTTP (starlette under uvicorn, in a
thread), a SMART token endpoint that verifies the client's signed JWT, `$export` kick-off,
a status URL that answers 202 with Retry-After before its manifest, the NDJSON files and
`Patient?_id=` searches. It records what clients asked, for the tests to check."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fhir_bulk_samples import TRANSACTION_TIME, Resource
from tests.support.uvicorn_server import free_port

CLIENT_ID = "healthlink-test-client"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class BulkServer:
    """What the server serves and what it saw."""

    public_key_pem: bytes
    output: dict[str, list[Resource]]
    deleted: list[Resource]
    held: list[Resource]  # found by Patient?_id= searches
    errors: list[Resource] = field(default_factory=list)  # OperationOutcomes, the `error` file
    files_host: str = "127.0.0.1"  # the host the manifest names for the files
    pending_polls: int = 1
    retry_after_s: int = 1
    url: str = ""
    tokens: set[str] = field(default_factory=set)
    kickoffs: list[dict[str, Any]] = field(default_factory=list)
    poll_times: list[float] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    refused_tokens: int = 0
    requests: int = 0

    @property
    def fhir_base(self) -> str:
        return f"{self.url}/fhir"

    @property
    def token_url(self) -> str:
        return f"{self.url}/auth/token"


def _ndjson(resources: list[Resource]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in resources)


def _app(state: BulkServer) -> Starlette:
    def authorised(request: Request) -> bool:
        state.requests += 1
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and header[len("Bearer ") :] in state.tokens

    async def token(request: Request) -> Response:
        form = await request.form()
        try:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise jwt.InvalidTokenError("assertion type")
            claims = jwt.decode(
                str(form.get("client_assertion")),
                state.public_key_pem,
                algorithms=["RS384"],
                audience=state.token_url,
                issuer=CLIENT_ID,
                options={"require": ["exp", "jti", "sub"]},
            )
            if claims["sub"] != CLIENT_ID or form.get("grant_type") != "client_credentials":
                raise jwt.InvalidTokenError("subject or grant")
        except jwt.PyJWTError:
            state.refused_tokens += 1
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued = secrets.token_urlsafe(16)
        state.tokens.add(issued)
        return JSONResponse(
            {
                "access_token": issued,
                "token_type": "bearer",
                "expires_in": 300,
                "scope": form.get("scope"),
            }
        )

    async def kickoff(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401)
        state.kickoffs.append(
            {"params": dict(request.query_params), "prefer": request.headers.get("prefer")}
        )
        if request.headers.get("prefer") != "respond-async":
            return Response(status_code=400)
        location = f"{state.fhir_base}/status/{len(state.kickoffs)}"
        return Response(status_code=202, headers={"Content-Location": location})

    async def status(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401)
        state.poll_times.append(time.monotonic())
        if len(state.poll_times) <= state.pending_polls:
            return Response(
                status_code=202,
                headers={"Retry-After": str(state.retry_after_s), "X-Progress": "exporting"},
            )
        files = f"{state.fhir_base}/files".replace("127.0.0.1", state.files_host)
        errors = [{"type": "OperationOutcome", "url": f"{files}/error"}] if state.errors else []
        return JSONResponse(
            {
                "transactionTime": TRANSACTION_TIME,
                "request": f"{state.fhir_base}/$export",
                "requiresAccessToken": True,
                "output": [{"type": t, "url": f"{files}/{t}"} for t in state.output],
                "deleted": [{"type": "Bundle", "url": f"{files}/deleted"}],
                "error": errors,
            }
        )

    async def files(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401)
        name = request.path_params["name"]
        state.downloads.append(name)
        content = {"deleted": state.deleted, "error": state.errors}.get(
            name, state.output.get(name)
        )
        if content is None:
            return Response(status_code=404)
        return Response(_ndjson(content), media_type="application/fhir+ndjson")

    async def search(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401)
        kind = request.path_params["kind"]
        state.searches.append(kind)
        ids = set(request.query_params.get("_id", "").split(","))
        found = [r for r in state.held if r["resourceType"] == kind and r["id"] in ids]
        return JSONResponse(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "entry": [{"resource": r} for r in found],
            }
        )

    return Starlette(
        routes=[
            Route("/auth/token", token, methods=["POST"]),
            Route("/fhir/$export", kickoff),
            Route("/fhir/status/{n}", status),
            Route("/fhir/files/{name}", files),
            Route("/fhir/{kind}", search),
        ]
    )


@contextmanager
def running_bulk_server(state: BulkServer) -> Iterator[BulkServer]:
    port = free_port()
    config = uvicorn.Config(_app(state), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test bulk server did not start")
        time.sleep(0.02)
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
