"""A Bulk Data server for the connector tests: real HTTP (starlette under uvicorn, in a
thread), a SMART token endpoint that verifies the client's signed JWT, `$export` kick-off,
a status URL that answers 202 with Retry-After before its manifest, the NDJSON files and
`Patient?_id=` searches; for history requests, over the records it holds (`store`): a Patient
search listing every Patient, `Patient/<id>/$everything` and `<Type>?patient=<id>` searches,
all paged with `next` links. Every route but the token's wants the bearer token. It records
what clients asked, for the tests to check."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import orjson
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from synthetic.fhir_hospital import THAI_ID_SYSTEM
from tests.support.fhir_bulk_samples import HN_SYSTEM, TRANSACTION_TIME, Resource
from tests.support.uvicorn_server import free_port

CLIENT_ID = "healthlink-test-client"
CREDENTIALS = "H10998"  # the credential set name the hospital's YAML gives
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
    store: list[Resource] = field(default_factory=list)  # every record held (history reads)
    page_size: int = 3  # at most this many resources a page, whatever _count asks
    everything_status: int = 200  # 404 or 501: a server without $everything
    throttled: int = 0  # this many $everything requests answer 429 first
    pending_polls: int = 1
    retry_after_s: int = 1
    url: str = ""
    tokens: set[str] = field(default_factory=set)
    kickoffs: list[dict[str, Any]] = field(default_factory=list)
    poll_times: list[float] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    search_params: list[dict[str, str]] = field(default_factory=list)
    everything: list[str] = field(default_factory=list)  # the Patient ids asked, each page
    throttle_times: list[float] = field(default_factory=list)
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

    def page(request: Request, found: list[Resource]) -> Response:
        """One page of a searchset, with a `next` link repeating the query at the next offset."""
        params = dict(request.query_params)
        offset = int(params.pop("_offset", "0"))
        size = min(int(params.get("_count", state.page_size)), state.page_size)
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {"resource": r, "search": {"mode": "match"}} for r in found[offset : offset + size]
            ],
        }
        if offset + size < len(found):
            query = urlencode({**params, "_offset": str(offset + size)})
            bundle["link"] = [{"relation": "next", "url": f"{request.url.replace(query=query)}"}]
        return JSONResponse(bundle)

    async def search(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401)
        kind = request.path_params["kind"]
        state.searches.append(kind)
        state.search_params.append(dict(request.query_params))
        if "_id" in request.query_params and "patient" not in request.query_params:
            ids = set(request.query_params["_id"].split(","))
            held = state.held + state.store
            found = [r for r in held if r["resourceType"] == kind and r["id"] in ids]
            unique = list({r["id"]: r for r in found}.values())
            return page(request, unique)
        if "patient" in request.query_params:
            patient = request.query_params["patient"]
            return page(request, [r for r in record_of(patient) if r["resourceType"] == kind])
        if kind == "Patient":
            return page(request, [r for r in state.store if r["resourceType"] == "Patient"])
        return Response(status_code=400)

    def record_of(patient: str) -> list[Resource]:
        reference = f"Patient/{patient}"
        return [
            r
            for r in state.store
            if (r["resourceType"] == "Patient" and r["id"] == patient)
            or any((r.get(e) or {}).get("reference") == reference for e in ("subject", "patient"))
        ]

    async def everything(request: Request) -> Response:
        if not authorised(request):
            return Response(status_code=401)
        patient = request.path_params["id"]
        state.everything.append(patient)
        if state.throttled:
            state.throttled -= 1
            state.throttle_times.append(time.monotonic())
            return Response(status_code=429, headers={"Retry-After": str(state.retry_after_s)})
        if state.everything_status != 200:
            return Response(status_code=state.everything_status)
        found = record_of(patient)
        if not found:
            return Response(status_code=404)
        return page(request, found)

    return Starlette(
        routes=[
            Route("/auth/token", token, methods=["POST"]),
            Route("/fhir/$export", kickoff),
            Route("/fhir/status/{n}", status),
            Route("/fhir/files/{name}", files),
            Route("/fhir/Patient/{id}/$everything", everything),
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


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def install_credentials(
    folder: Path, key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The client's id and key where the connector looks: the environment, a secrets file."""
    secrets_file = folder / "secrets" / "fhir-10998.pem"
    secrets_file.parent.mkdir()
    secrets_file.write_bytes(pem(key))
    monkeypatch.setenv(f"HEALTHLINK_FHIR_CLIENT_ID_{CREDENTIALS}", CLIENT_ID)
    monkeypatch.setenv(f"HEALTHLINK_FHIR_PRIVATE_KEY_FILE_{CREDENTIALS}", str(secrets_file))
    return secrets_file


def connector_settings(server: BulkServer, path: Path, **server_extra: object) -> dict[str, Any]:
    """A hospital's `connector:` block for the running server (exports under `path`)."""
    return {
        "kind": "fhir_bulk",
        "path": str(path),
        "national_id_system": THAI_ID_SYSTEM,
        "hn_system": HN_SYSTEM,
        "server": {
            "base_url": server.fhir_base,
            "token_url": server.token_url,
            "credentials": CREDENTIALS,
            **server_extra,
        },
    }
