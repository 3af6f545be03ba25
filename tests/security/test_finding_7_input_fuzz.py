"""Issue 9, finding 7: malformed input never gives a 500, is never repeated in an answer or
a log, and a body over the limit is refused with 413 (declared or streamed), over real HTTP on
DuckDB and PostgreSQL.

The reported attacks: a lone surrogate in a JSON body gave a 500 whose logged traceback held
the national ID and the pincode; `birth_date` 0001-01-01 gave a 500 (OverflowError); 422
answers repeated the input (100 MB in, 300 MB out).

Every operation of the served OpenAPI document is walked at run time (routes added later
are covered): a plausible request built from the schema, then each path parameter and each
leaf of the body replaced in turn by hostile values (lone surrogates, NUL, control and bidi
characters, huge strings, extreme dates and numbers, wrong types, nested junk), plus
malformed bodies (bad UTF-8, broken or deeply nested JSON, wrong top-level types) and bodies
over the limit. Hostile strings carry a marker that must appear in no answer and in no line
the server logged meanwhile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.api_server import (
    PINCODE,
    TERMS_VERSION,
    Server,
    add_physician,
    bearer,
    citizen,
)
from tests.support.machine import TEST_KEY
from tests.support.operations import (
    FUZZ_NATIONAL_ID,
    Operation,
    Samples,
    leaves,
    operations,
    replaced,
    sample,
)
from tests.support.uvicorn_server import running_api

MARKER = "Zq7xMARK"
BODY_LIMIT = 64 * 1024  # the default setting, which the shared server keeps
# Each leaf of a plausible body gets the hostile values of its own kind (a value of the
# right type is what passes validation and reaches a handler, as 0001-01-01 once did); the
# wrong types go to the first leaf, and whole-body junk to every operation.
HOSTILE_TEXT: list[Any] = [
    "\ud800" + MARKER,  # a lone surrogate (sent as the JSON escape \ud800)
    MARKER + "\x00",
    MARKER + "\x01\x1b\x7f\u202e\u200b",  # control, bidi override, zero-width space
    MARKER * 3000,  # 24 KB: under the body limit, over every field's length
]
HOSTILE_DATES: list[Any] = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
]
HOSTILE_NUMBERS: list[Any] = [10**30, -(10**30), 1e308, -1]
WRONG_TYPES: list[Any] = [None, True, [], {MARKER: [MARKER, {"nested": [[[MARKER]]]}]}]
# Hostile literals a refusal must not repeat either (they carry no marker).
ECHO_WATCH = ("0001-01-01", "9999-12-31", "1000000000000000000000000000000", "1e+308")
PATH_VALUES = [
    MARKER,
    "%00" + MARKER,
    "%ED%A0%80" + MARKER,  # the UTF-8 bytes of a surrogate
    "..%2F..%2F" + MARKER,
    "9" * 400 + MARKER,
]
RAW_BODIES: list[bytes] = [
    b'{"x": "\xff\xfe' + MARKER.encode() + b'"}',  # not UTF-8
    b"{" + MARKER.encode(),  # broken JSON
    b'{"x": "' + MARKER.encode() + b'\x01\x02"}',  # raw control characters in a string
    b"[" * 5000 + b"]" * 5000,  # nesting deeper than any parser should recurse
    b'{"x": ' + b"9" * 5000 + b"}",  # an integer beyond Python's digit limit
    b'"' + MARKER.encode() + b'"',
    b"[]",
    b"null",
    b"12345678901234567890",
    b'{"x": NaN, "y": Infinity}',
]

# Malformed bodies fail before routing matters (body guard, JSON parser): each operation
# gets this many of them, in rotation.
RAW_BODIES_PER_OPERATION = 5


class Identities:
    """Who each kind of route is called as. Physicians rotate every few requests: the
    search limit (25 a minute per physician on the shared server) must not hide what the
    handlers would do with the input."""

    def __init__(self, server: Server) -> None:
        from warehouse.api import physicians
        from warehouse.pseudonym import patient_key
        from warehouse.storage.connection import connect

        self.server = server
        self.hospital = server.cast.one_time_hospitals[0]
        self.citizen_key = patient_key(FUZZ_NATIONAL_ID, TEST_KEY.encode())
        self._physicians = 0
        self._uses = 0
        self._token: str | None = None
        with connect(server.settings) as conn:
            physicians.add_admin(conn, "fuzz-admin-7", server.cast.one_time_hospitals[1], "pw-7")
            cast = server.cast
            own = {cast.multi_hospital_patient, cast.withdrawn_patient}
            keys = conn.execute(
                "SELECT patient_key FROM published.patient ORDER BY patient_key DESC LIMIT 5"
            ).fetchall()
        self.patient_key = next(k for (k,) in keys if k not in own)
        admin = httpx.post(
            f"{server.url}/admin/login",
            json={"username": "fuzz-admin-7", "password": "pw-7"},
            timeout=60,
        )
        assert admin.status_code == 200, admin.text
        self.admin_token = admin.json()["token"]

    def samples(self, operation: Operation) -> Samples:
        if operation.path.startswith("/citizen-app/"):
            return Samples(self.citizen_key, self.hospital)
        return Samples(self.patient_key, self.hospital)

    def headers(self, operation: Operation) -> dict[str, str]:
        if operation.path.startswith("/citizen-app/"):
            return citizen(self.citizen_key)
        if operation.path.startswith("/admin/"):
            return bearer(self.admin_token)
        return bearer(self._physician_token(ends_session=operation.path.endswith("/logout")))

    def _physician_token(self, *, ends_session: bool) -> str:
        if self._token is None or self._uses >= 20:
            self._token = self._new_physician()
            self._uses = 0
        self._uses += 1
        token = self._token
        if ends_session:
            self._token = None
        return token

    def _new_physician(self) -> str:
        self._physicians += 1
        licence = f"F7{self._physicians:04d}"
        add_physician(self.server.settings, licence, [self.hospital])
        with self.server.client() as client:
            login = client.post("/auth/login", json={"licence": licence, "pincode": PINCODE})
            assert login.status_code == 200, login.text
            token = str(login.json()["token"])
            terms = {"accept": True, "terms_version": TERMS_VERSION}
            assert client.post("/auth/terms", json=terms, headers=bearer(token)).is_success
        return token


def _json(value: Any) -> bytes:
    # ensure_ascii (the default) sends a lone surrogate as its \uXXXX escape, as the attack did
    return json.dumps(value).encode("ascii")


def _rotating(items: list[bytes], label: str, count: int) -> list[bytes]:
    """`count` of the items, starting at a place that depends on the operation: every
    malformed body is sent to several operations, and each operation gets several."""
    start = sum(label.encode()) % len(items)
    return [items[(start + i) % len(items)] for i in range(count)]


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _hostile_for(current: Any, *, first: bool) -> list[Any]:
    if isinstance(current, bool):
        kind: list[Any] = ["true", 2]
    elif isinstance(current, int | float):
        kind = HOSTILE_NUMBERS
    elif isinstance(current, str) and re.match(r"^\d{4}-\d{2}-\d{2}", current):
        kind = HOSTILE_DATES + HOSTILE_TEXT[:1]
    else:
        kind = HOSTILE_TEXT
    return kind + (WRONG_TYPES + HOSTILE_NUMBERS[:1] if first else [])


def _requests(
    operation: Operation, identities: Identities, components: dict[str, Any]
) -> Iterator[tuple[str, str, bytes | None]]:
    """(label, url, body) for every hostile variant of one operation."""
    samples = identities.samples(operation)
    path_values = {name: samples.path_value(name) for name in operation.path_params}
    body = (
        sample(operation.body_schema, components, samples)
        if operation.body_schema is not None
        else None
    )
    encoded = _json(body) if body is not None else None
    yield "plausible request", operation.url(path_values), encoded
    for name in operation.path_params:
        for value in PATH_VALUES:
            url = operation.url({**path_values, name: value})
            yield f"path {name}={value[:20]!r}", url, encoded
    if body is None:
        return
    url = operation.url(path_values)
    for number, leaf in enumerate(leaves(body)):
        for value in _hostile_for(_at(body, leaf), first=number == 0):
            yield f"body {leaf}={str(value)[:20]!r}", url, _json(replaced(body, leaf, value))
    if isinstance(body, dict):
        yield "unknown key", url, _json({**body, MARKER: MARKER})
    for raw in _rotating(RAW_BODIES, operation.label, RAW_BODIES_PER_OPERATION):
        yield f"raw body {raw[:20]!r}", url, raw


def _send(
    client: httpx.Client, operation: Operation, url: str, body: bytes | None, headers: dict
) -> httpx.Response:
    content_headers = {"Content-Type": "application/json"} if body is not None else {}
    return client.request(
        operation.method, url, content=body, headers={**headers, **content_headers}
    )


def _problems(label: str, response: httpx.Response) -> list[str]:
    found = []
    if response.status_code >= 500:
        found.append(f"{label}: {response.status_code}")
    if MARKER in response.text:
        found.append(f"{label}: {response.status_code} repeats the sent text")
    if response.status_code >= 400:
        found += [
            f"{label}: {response.status_code} repeats {literal}"
            for literal in ECHO_WATCH
            if literal in response.text
        ]
    return found


def _oversized(client: httpx.Client, operation: Operation, url: str, headers: dict) -> list[str]:
    """Over the limit: declared by Content-Length, and streamed in chunks without one."""
    found = []
    big = b'{"x": "' + MARKER.encode() * (BODY_LIMIT // len(MARKER) + 10) + b'"}'
    declared = _send(client, operation, url, big, headers)
    if declared.status_code != 413 or MARKER in declared.text:
        found.append(f"oversized body: {declared.status_code} (413 expected)")

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield MARKER.encode() * 500

    streamed = client.request(
        operation.method,
        url,
        content=chunks(),
        headers={**headers, "Content-Type": "application/json"},
    )
    if streamed.status_code != 413 or MARKER in streamed.text:
        found.append(f"oversized chunked body: {streamed.status_code} (413 expected)")
    return found


def test_finding_7_no_500_and_no_echo_on_hostile_input_to_every_operation(
    api_server: Server,
) -> None:
    log_path = api_server.home / "uvicorn.log"
    log_start = log_path.stat().st_size
    identities = Identities(api_server)
    found, components = operations(api_server.url)
    assert len(found) >= 20, "the OpenAPI document lists the app's operations"
    problems: list[str] = []
    sent = 0
    with api_server.client() as client:
        for operation in found:
            for label, url, body in _requests(operation, identities, components):
                headers = identities.headers(operation)
                try:
                    response = _send(client, operation, url, body, headers)
                except httpx.TransportError as error:  # the server dropped the connection
                    problems.append(f"{operation.label} {label}: {type(error).__name__}")
                    continue
                problems += _problems(f"{operation.label} {label}", response)
                sent += 1
            if operation.body_schema is not None:
                url = operation.url(
                    {n: identities.samples(operation).path_value(n) for n in operation.path_params}
                )
                oversize = _oversized(client, operation, url, identities.headers(operation))
                problems += [f"{operation.label} {p}" for p in oversize]
    assert sent > 300
    assert not problems, "\n".join(problems[:60])
    logged = log_path.read_bytes()[log_start:].decode("utf-8", "replace")
    assert MARKER not in logged, "the server logged request text"
    assert FUZZ_NATIONAL_ID not in logged, "the server logged a national ID"
    assert "Traceback" not in logged, "the server logged a traceback"


def test_finding_7_refusals_name_fields_not_values(api_server: Server) -> None:
    """The 422 names the field and the reason (type, short message) and nothing sent."""
    secret_id = FUZZ_NATIONAL_ID
    with api_server.client() as client:
        refused = client.post(
            "/auth/login",
            json={"licence": f"{secret_id}-{MARKER}", "pincode": MARKER, MARKER: secret_id},
        )
    assert refused.status_code == 422
    errors = refused.json()["detail"]
    assert {tuple(e["loc"]) for e in errors} >= {("body", "licence")}
    for error in errors:
        assert set(error) == {"loc", "type", "msg"}, "no input, ctx or url"
    assert MARKER not in refused.text and secret_id not in refused.text


def test_finding_7_extreme_birth_date_is_a_422_not_a_500(api_server: Server) -> None:
    """The reported OverflowError: birth_date 0001-01-01 (and instants at the calendar's
    ends) in a registration."""
    from datetime import UTC, datetime, timedelta

    from warehouse.pseudonym import patient_key

    key = patient_key(FUZZ_NATIONAL_ID, TEST_KEY.encode())
    verified = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    with api_server.client() as client:
        for birth, verified_at in (
            ("0001-01-01", verified),
            ("9999-12-31", verified),
            ("1980-05-17", "0001-01-01T00:00:00+14:00"),
            ("1980-05-17", "9999-12-31T23:59:59-12:00"),
        ):
            body = {
                "national_id": FUZZ_NATIONAL_ID,
                "birth_date": birth,
                "verification": {
                    "method": "thaid",
                    "verified_at": verified_at,
                    "national_id": FUZZ_NATIONAL_ID,
                },
                "sender": {"scope": "ALL"},
            }
            response = client.post(
                "/citizen-app/consent/registrations", json=body, headers=citizen(key)
            )
            assert response.status_code == 422, (birth, verified_at, response.text)
            assert birth not in response.text and verified_at not in response.text


def test_finding_7_an_unexpected_error_logs_its_type_and_route_only(
    api_server: Server, tmp_path: Path
) -> None:
    """The reported 500 logged a traceback holding the national ID and the pincode. The
    catch-all answers a generic 500 (with the security headers) and logs the exception's type
    and route template only: a route that fails on purpose, values in its message and locals,
    served by a second API process at uvicorn's default log level."""
    from tests.support.failing_app import FAILING_PATH

    log = tmp_path / "failing-api.log"
    with running_api(
        api_server.env, log, startup_seconds=120, app="tests.support.failing_app:app"
    ) as url:
        answer = httpx.post(
            f"{url}{FAILING_PATH}",
            json={"national_id": FUZZ_NATIONAL_ID, "pincode": MARKER},
            timeout=60,
        )
    assert answer.status_code == 500 and answer.json() == {"detail": "internal_error"}
    assert answer.headers.get("Cache-Control") == "no-store"
    assert "frame-ancestors 'none'" in answer.headers.get("Content-Security-Policy", "")
    logged = log.read_text(encoding="utf-8", errors="replace")
    assert "unhandled_error" in logged and "RuntimeError" in logged and FAILING_PATH in logged
    assert MARKER not in logged and FUZZ_NATIONAL_ID not in logged
    assert "Traceback" not in logged
