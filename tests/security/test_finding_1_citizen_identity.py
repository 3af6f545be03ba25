"""Issue 9, finding 1: citizens act only for themselves, over real HTTP on DuckDB and
PostgreSQL.

Every citizen-app call carries the identity provider's short-lived ES256 token whose subject
is the patient's key (tests/support/api_server.citizen_token); the API holds the public key
only. Another patient's key answers as a key that does not exist and changes nothing; the
app's own credential, a physician's session, and every malformed or forged token are 401; a
physician cannot answer a per-visit request; in production nothing development-grade is
accepted; operator commands record the operator in consent.event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.api_server import (
    CITIZEN_APP_TOKEN,
    CITIZEN_IDP_AUDIENCE,
    CITIZEN_IDP_ISSUER,
    CITIZEN_IDP_PUBLIC_KEY,
    Server,
    add_physician,
    bearer,
    citizen,
    citizen_idp_env,
    citizen_token,
    login,
)
from tests.support.machine import REPO, TEST_KEY
from tests.support.uvicorn_server import running_api

HEALTHLINK = REPO / ".venv" / "bin" / "healthlink"
NOBODY = "0" * 32


def _server_env(server: Server) -> dict[str, str]:
    """The environment of `healthlink` commands and of a second API on the same warehouse."""
    return {
        **os.environ,
        "HEALTHLINK_HOME": str(server.home),
        "HEALTHLINK_REGISTRY_DIR": str(server.settings.registry_dir),
        "HEALTHLINK_PSEUDONYM_KEY": TEST_KEY,
        "HEALTHLINK_WAREHOUSE": server.settings.warehouse,
        "HEALTHLINK_ENVIRONMENT": "test",
        **citizen_idp_env(),
    }


def _other_patient(server: Server) -> str:
    """A registered, consenting patient other than the cast's multi-hospital patient."""
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        (key,) = conn.execute(
            "SELECT min(patient_key) FROM consent.patient_consent "
            "WHERE status = 'active' AND patient_key NOT IN (?, ?)",
            [server.cast.multi_hospital_patient, server.cast.withdrawn_patient],
        ).fetchone()
    return str(key)


def _events(server: Server, patient_key: str) -> list[tuple[Any, ...]]:
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        return conn.execute(
            "SELECT event_id, event_type, recorded_by FROM consent.event "
            "WHERE patient_key = ? ORDER BY event_id",
            [patient_key],
        ).fetchall()


def _refusals_audited(server: Server, patient_key: str) -> int:
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM audit.access_log WHERE patient_key = ? "
            "AND purpose = 'citizen_app' AND outcome = 'not_found'",
            [patient_key],
        ).fetchone()
    return int(count)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _claims(subject: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": CITIZEN_IDP_ISSUER,
        "aud": CITIZEN_IDP_AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + 300,
        **changes,
    }


def _unsigned(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand: alg=none (no key) or HS256 keyed with `key` (the public PEM)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _forged_tokens(subject: str) -> dict[str, str]:
    stranger = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    return {
        "app credential": CITIZEN_APP_TOKEN,
        "expired": citizen_token(subject, iat=now - 600, exp=now - 300),
        "wrong signature": jwt.encode(_claims(subject), stranger, algorithm="ES256"),
        "hs256 keyed with the public key": _unsigned(
            {"alg": "HS256", "typ": "JWT"}, _claims(subject), CITIZEN_IDP_PUBLIC_KEY.encode()
        ),
        "alg none": _unsigned({"alg": "none", "typ": "JWT"}, _claims(subject), None),
        "lives an hour": citizen_token(subject, lifetime_seconds=3600),
        "issued in the future": citizen_token(subject, iat=now + 3600, exp=now + 3900),
        "other audience": citizen_token(subject, aud="another-api"),
        "other issuer": citizen_token(subject, iss="https://evil.invalid"),
        "subject not a key": citizen_token("1234567890123"),
        "no subject": jwt.encode(
            {k: v for k, v in _claims(subject).items() if k != "sub"},
            stranger,
            algorithm="ES256",
        ),
    }


def test_finding_1_a_patient_token_cannot_read_or_change_another_patient(
    api_server: Server,
) -> None:
    """Patient A's token on patient B's key: 404 exactly as for a nonexistent key, and
    B's consent log does not move."""
    own = api_server.cast.multi_hospital_patient
    other = _other_patient(api_server)
    before = _events(api_server, other)
    refused_before = _refusals_audited(api_server, own)
    hospital = api_server.cast.one_time_hospitals[0]
    calls = [
        ("GET", "/citizen-app/consent/{}", None),
        ("GET", "/citizen-app/consent/{}/notifications", None),
        ("PUT", "/citizen-app/consent/{}/sensitive", {"allowed": True}),
        ("PUT", "/citizen-app/consent/{}/sources", {"scope": "LIST", "hospitals": [hospital]}),
        ("POST", "/citizen-app/consent/{}/withdrawal", None),
        ("POST", "/citizen-app/consent/{}/rejoin", {}),
    ]
    with api_server.client() as client:
        for method, path, body in calls:
            theirs = client.request(method, path.format(other), json=body, headers=citizen(own))
            missing = client.request(method, path.format(NOBODY), json=body, headers=citizen(own))
            assert theirs.status_code == missing.status_code == 404, (path, theirs.text)
            assert theirs.json() == missing.json()
            assert theirs.json()["reason_code"] == "not_registered"
        # The patient's own key still answers: the 404 is about ownership, not the route.
        assert client.get(f"/citizen-app/consent/{own}", headers=citizen(own)).status_code == 200
    assert _events(api_server, other) == before
    # Each attempt is in the audit, as the acting patient's (two per call: B's and nobody's).
    assert _refusals_audited(api_server, own) == refused_before + 2 * len(calls)


def test_finding_1_only_a_valid_patient_token_is_accepted(api_server: Server) -> None:
    """The app's credential alone, expired, forged, HS256-with-the-public-key, alg=none,
    long-lived, wrongly addressed tokens, and a physician's session: all 401."""
    own = api_server.cast.multi_hospital_patient
    add_physician(api_server.settings, "61001", [api_server.cast.one_time_hospitals[0]])
    with api_server.client() as client:
        tokens = {**_forged_tokens(own), "physician session": login(client, "61001")}
        for name, token in tokens.items():
            for method, path in (
                ("GET", f"/citizen-app/consent/{own}"),
                ("GET", f"/citizen-app/consent/{own}/notifications"),
            ):
                answer = client.request(method, path, headers=bearer(token))
                assert answer.status_code == 401, (name, path, answer.status_code)
        assert client.get(f"/citizen-app/consent/{own}", headers=citizen(own)).status_code == 200


def test_finding_1_a_physician_cannot_answer_a_per_visit_request(api_server: Server) -> None:
    cast = api_server.cast
    own = cast.multi_hospital_patient
    other = _other_patient(api_server)
    add_physician(api_server.settings, "61002", [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        physician = login(client, "61002", hospital=cast.one_time_hospitals[0])
        created = client.post(
            f"/patients/{own}/per-visit-requests",
            json={"source_hospitals": cast.per_visit_hospitals[:1]},
            headers=bearer(physician),
        )
        assert created.status_code == 201, created.text
        url = f"/citizen-app/per-visit-requests/{created.json()['request_id']}/decision"
        approve = {"decision": "approve"}
        assert client.post(url, json=approve, headers=bearer(physician)).status_code == 401
        assert client.post(url, json=approve, headers=bearer(CITIZEN_APP_TOKEN)).status_code == 401
        # The old body naming the patient does not help another patient's token either.
        foreign = client.post(url, json={**approve, "patient_key": own}, headers=citizen(other))
        assert foreign.status_code == 404
        answered = client.post(url, json={"decision": "decline"}, headers=citizen(own))
        assert answered.status_code == 200 and answered.json()["status"] == "declined"
    decided = [e for e in _events(api_server, own) if e[1] == "per_visit_declined"]
    assert decided[-1][2] == "citizen"


def test_finding_1_production_accepts_no_development_credential(api_server: Server) -> None:
    """HEALTHLINK_ENVIRONMENT unset is production: the old development app token and any
    token are refused when no identity provider key is configured (nothing built in)."""
    env = {
        key: value
        for key, value in _server_env(api_server).items()
        if key != "HEALTHLINK_ENVIRONMENT" and not key.startswith("HEALTHLINK_API_CITIZEN_IDP")
    }
    env["HEALTHLINK_API_CITIZEN_APP_TOKEN"] = "citizen-app-development-token-not-for-production"
    own = api_server.cast.multi_hospital_patient
    log = api_server.home / "uvicorn-production.log"
    with running_api(env, log, startup_seconds=180) as url, httpx.Client(base_url=url) as client:
        for token in (env["HEALTHLINK_API_CITIZEN_APP_TOKEN"], citizen_token(own)):
            answer = client.get(f"/citizen-app/consent/{own}", headers=bearer(token), timeout=60)
            assert answer.status_code in (401, 503), answer.status_code
            assert "patient_key" not in answer.text


def _cli(server: Server, *args: str, operator_env: str | None = None) -> None:
    env = _server_env(server)
    env.pop("HEALTHLINK_OPERATOR", None)
    if operator_env is not None:
        env["HEALTHLINK_OPERATOR"] = operator_env
    done = subprocess.run(
        [str(HEALTHLINK), "consent", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_finding_1_operator_commands_record_the_operator(api_server: Server, how: str) -> None:
    """`healthlink consent` acts for any patient: each event names the operator, while the
    citizen app's own changes are recorded as `citizen`."""
    patient = _other_patient(api_server)
    with api_server.client() as client:
        shown = client.get(f"/citizen-app/consent/{patient}", headers=citizen(patient))
        original = bool(shown.json()["sensitive_allowed"])
        changed = client.put(
            f"/citizen-app/consent/{patient}/sensitive",
            json={"allowed": not original},
            headers=citizen(patient),
        )
        assert changed.status_code == 200, changed.text
    assert _events(api_server, patient)[-1][1:] == ("sensitive_changed", "citizen")
    back = "--on" if original else "--off"  # the operator restores the patient's choice
    if how == "option":
        _cli(api_server, "sensitive", patient, back, "--operator", "support.alice")
    else:
        _cli(api_server, "sensitive", patient, back, operator_env="support.alice")
    assert _events(api_server, patient)[-1][1:] == ("sensitive_changed", "operator:support.alice")
