"""One warehouse built per test process and backend (4 hospitals, 300 patients), a fresh
copy of it for every test module, and the API served over real HTTP.

Building takes the whole pipeline (minutes); copying takes a second (the DuckDB home with
its audit sibling; on PostgreSQL `CREATE DATABASE ... TEMPLATE`). A parametrised session
fixture lives only until the parameter changes, and every module runs both backends, so
without the template each module rebuilt both warehouses.

`api_server` is parametrised: the DuckDB file, and a throwaway PostgreSQL database built by
the same pipeline (generate → consent import → sync_batch → dbt build). On PostgreSQL the
server connects as healthlink_api (RLS applies consent and the per-visit gate) while the
tests use the administrative URL in `Server.settings` to set up and inspect. The server is a
uvicorn subprocess on 127.0.0.1 with a free port; tests talk to it with httpx and may open
the warehouse themselves between requests (the DuckDB file lock serialises the two).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.machine import REPO, TEST_AUDIT_KEY, TEST_KEY, throwaway_pg_database
from tests.support.uvicorn_server import running_api

# The citizen app's own credential: it acts for nobody (issue 9 #1), every citizen-app call
# carries a patient-bound token of the identity provider instead (`citizen_token`).
CITIZEN_APP_TOKEN = "citizen-app-test-token"
# The identity provider of the tests: an ES256 key pair made per test process; the API gets
# only the public key.
CITIZEN_IDP_ISSUER = "https://idp.test.invalid"
CITIZEN_IDP_AUDIENCE = "healthlink-citizen-api"
_CITIZEN_IDP_KEY = ec.generate_private_key(ec.SECP256R1())
CITIZEN_IDP_PUBLIC_KEY = (
    _CITIZEN_IDP_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode("ascii")
)


def citizen_token(patient_key: str, *, lifetime_seconds: int = 300, **claims: Any) -> str:
    """A token of the tests' identity provider for `patient_key` (claims may override)."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": CITIZEN_IDP_ISSUER,
        "aud": CITIZEN_IDP_AUDIENCE,
        "sub": patient_key,
        "iat": now,
        "exp": now + lifetime_seconds,
        **claims,
    }
    return jwt.encode(payload, _CITIZEN_IDP_KEY, algorithm="ES256")


def citizen(patient_key: str) -> dict[str, str]:
    """Authorization header of the citizen app acting for `patient_key`."""
    return {"Authorization": f"Bearer {citizen_token(patient_key)}"}


def citizen_idp_env() -> dict[str, str]:
    """What the API needs to check the tests' identity provider tokens."""
    return {
        "HEALTHLINK_API_CITIZEN_IDP_PUBLIC_KEY": CITIZEN_IDP_PUBLIC_KEY,
        "HEALTHLINK_API_CITIZEN_IDP_ISSUER": CITIZEN_IDP_ISSUER,
        "HEALTHLINK_API_CITIZEN_IDP_AUDIENCE": CITIZEN_IDP_AUDIENCE,
    }


PINCODE = "482916"
TERMS_VERSION = "2026-01"


@dataclass
class Cast:
    """The people the tests act with, chosen from the generated data."""

    multi_hospital_patient: (
        str  # data from 4 hospitals, 2 of them per-visit; registered via the consent service
    )
    multi_hospital_cid: str
    multi_hospital_name: tuple[str, str]
    withdrawn_patient: str
    withdrawn_cid: str
    per_visit_hospitals: list[str]
    one_time_hospitals: list[str]


@dataclass
class Server:
    url: str
    home: Path
    settings: Any
    cast: Cast
    env: dict[str, str] = field(default_factory=dict)  # the server's, for a second worker

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def _build_warehouse(home: Path, dataset: Path, warehouse: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tests.support.build_warehouse", str(home), str(dataset), warehouse],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _register_in_consent_service(conn: Any, settings: Any, patient_key: str) -> None:
    """The generator's registrations are imported as projection rows only; the consent
    service (per-visit requests, withdrawal) works from its event log, so the patients the
    tests act on are registered through it, as the citizen app would."""
    from warehouse import consent

    cid, birth_date = conn.execute(
        "SELECT cid, birth_date FROM published.patient WHERE patient_key = ?", [patient_key]
    ).fetchone()
    verified = datetime.now(UTC) - timedelta(days=3)
    try:
        _register(conn, settings, cid, birth_date, verified)
    except consent.ConsentRefused as refused:
        # warehouse.consent.sender_choice.import_registrations now writes through the service's event log
        if refused.reason_code != "already_registered":
            raise


def _register(conn: Any, settings: Any, cid: str, birth_date: Any, verified: datetime) -> None:
    from warehouse import consent
    from warehouse.hospital_registry import load_registry

    consent.register(
        conn,
        load_registry(settings.registry_dir),
        consent.Registration(
            national_id=cid,
            birth_date=birth_date,
            verification_method="thaid",
            verified_at=verified,
            verified_national_id=cid,
            choice=consent.SenderChoice.everyone(),
            sensitive_allowed=True,
        ),
        TEST_KEY.encode(),
        now=verified,
    )


def _cast(settings: Any) -> Cast:
    from warehouse import consent
    from warehouse.storage.connection import connect

    with connect(settings) as conn:
        per_visit = [
            r[0]
            for r in conn.execute(
                "SELECT hospital_code FROM published.hospital_freshness "
                "WHERE per_visit_consent ORDER BY 1"
            ).fetchall()
        ]
        # Patients with encounters at every hospital, adults (the service checks age).
        candidates = conn.execute(
            "SELECT e.patient_key FROM published.encounter AS e "
            "JOIN published.patient AS p ON p.patient_key = e.patient_key "
            "WHERE p.birth_date < DATE '2000-01-01' "
            "GROUP BY e.patient_key HAVING count(DISTINCT e.hospital_code) = 4 ORDER BY 1"
        ).fetchall()
        multi, withdrawn = candidates[0][0], candidates[1][0]
        one_time = [
            r[0]
            for r in conn.execute(
                "SELECT hospital_code FROM published.hospital_freshness "
                "WHERE NOT per_visit_consent ORDER BY 1"
            ).fetchall()
        ]
        (withdrawn_cid,) = conn.execute(
            "SELECT cid FROM published.patient WHERE patient_key = ?", [withdrawn]
        ).fetchone()
        for key in (multi, withdrawn):
            _register_in_consent_service(conn, settings, key)
        consent.withdraw(conn, withdrawn, now=datetime.now(UTC) - timedelta(days=1))
        cid, first, last = conn.execute(
            "SELECT cid, first_name, last_name FROM published.patient WHERE patient_key = ?",
            [multi],
        ).fetchone()
    return Cast(multi, cid, (first, last), withdrawn, withdrawn_cid, per_visit, one_time)


def add_physician(
    settings: Any, licence: str, hospitals: list[str], name: str = "นพ. ทดสอบ"
) -> None:
    from warehouse.api import physicians
    from warehouse.storage.connection import connect

    with connect(settings) as conn, conn.transaction():
        physicians.add_physician(conn, licence, name, PINCODE, hospitals)


@dataclass
class Template:
    """A built warehouse to copy: its home (landing zone, audit heads) and, on PostgreSQL,
    the database name."""

    home: Path
    database: str | None
    cast: Cast


@dataclass
class Templates:
    """The built warehouses of this test process, one per backend, built on first use."""

    small_dataset: Path
    tmp_path_factory: pytest.TempPathFactory
    databases: ExitStack
    built: dict[str, Template] = field(default_factory=dict)

    def get(self, backend: str) -> Template:
        if backend not in self.built:
            warehouse = ""
            if backend == "postgres":
                warehouse = self.databases.enter_context(
                    throwaway_pg_database("healthlink_api_template")
                )
            home = self.tmp_path_factory.mktemp("api-template") / "home"
            settings = _settings(home, self.small_dataset, warehouse)
            _build_warehouse(home, self.small_dataset, warehouse)
            cast = _cast(settings)
            database = warehouse.rsplit("/", 1)[-1] if warehouse else None
            self.built[backend] = Template(home, database, cast)
        return self.built[backend]


@pytest.fixture(scope="session")
def api_templates(
    small_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Templates]:
    """Not parametrised, so it lives as long as the test process; drops its databases."""
    with ExitStack() as databases:
        yield Templates(small_dataset, tmp_path_factory, databases)


def _settings(home: Path, small_dataset: Path, warehouse: str) -> Any:
    from warehouse.settings import Settings

    return Settings(
        home=home,
        registry_dir=small_dataset / "registry",
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
        warehouse=warehouse,
    )


def _copy_home(template: Path, home: Path) -> None:
    """The home and its sibling audit head sink (`<home>-audit`), as the template left them."""
    shutil.copytree(template, home)
    audit = template.with_name(template.name + "-audit")
    if audit.exists():
        shutil.copytree(audit, home.with_name(home.name + "-audit"))


@pytest.fixture(
    scope="session", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api_server(
    request: pytest.FixtureRequest,
    api_templates: Templates,
    small_dataset: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    template = api_templates.get(request.param)
    home = tmp_path_factory.mktemp("api") / "home"
    _copy_home(template.home, home)
    if template.database is None:
        yield from _serve(home, small_dataset, "", template.cast)
        return
    with throwaway_pg_database("healthlink_api_test", template=template.database) as url:
        yield from _serve(home, small_dataset, url, template.cast)


def _serve(home: Path, small_dataset: Path, warehouse: str, cast: Cast) -> Iterator[Server]:
    settings = _settings(home, small_dataset, warehouse)
    env = {
        **os.environ,
        "HEALTHLINK_HOME": str(home),
        "HEALTHLINK_REGISTRY_DIR": str(settings.registry_dir),
        "HEALTHLINK_PSEUDONYM_KEY": TEST_KEY,
        "HEALTHLINK_ENVIRONMENT": "test",
        "HEALTHLINK_API_CITIZEN_APP_TOKEN": CITIZEN_APP_TOKEN,
        **citizen_idp_env(),
        "HEALTHLINK_AUDIT_KEY": TEST_AUDIT_KEY,
        "HEALTHLINK_API_SEARCH_PER_MINUTE": "25",
        # Every test reads from 127.0.0.1 with a few sessions: the other rate limits are
        # tested on a server of their own (tests/security/test_finding_7_rate_limits.py).
        "HEALTHLINK_API_PATIENT_PER_MINUTE": "100000",
        "HEALTHLINK_API_ADDRESS_PER_MINUTE": "100000",
        # Every test logs in from 127.0.0.1: the per-address login throttle is tested on
        # addresses of its own (tests/security/test_finding_2_*), not on the shared one.
        "HEALTHLINK_API_LOGIN_ADDRESS_FAILURES": "100000",
        "HEALTHLINK_WAREHOUSE": warehouse,
    }
    with running_api(env, home / "uvicorn.log", startup_seconds=120) as url:
        yield Server(url, home, settings, cast, env)


def login(client: httpx.Client, licence: str, *, hospital: str | None = None) -> str:
    """Log in, accept the terms, pick the hospital: a token ready for data."""
    response = client.post("/auth/login", json={"licence": licence, "pincode": PINCODE})
    assert response.status_code == 200, response.text
    token = str(response.json()["token"])
    headers = {"Authorization": f"Bearer {token}"}
    if not response.json()["terms_accepted"]:
        accepted = client.post(
            "/auth/terms", json={"accept": True, "terms_version": TERMS_VERSION}, headers=headers
        )
        assert accepted.status_code == 200, accepted.text
    if hospital is not None:
        chosen = client.post("/auth/hospital", json={"hospital_code": hospital}, headers=headers)
        assert chosen.status_code == 200, chosen.text
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_count(settings: Any) -> int:
    from warehouse.storage.connection import connect

    with connect(settings) as conn:
        return int(conn.execute("SELECT count(*) FROM audit.access_log").fetchone()[0])
