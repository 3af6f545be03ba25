"""A FHIR hospital with a `$export` server serves history requests end to end on DuckDB: a
patient registers, the consent side asks the hospital for the patient's full history, and the
next day's sync_batch brings the patient's older visit from the server (`$everything`, or type
by type when refused) through consent, validation, accounting and landing into raw."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from structlog.testing import capture_logs

from tests.support.consent_kit import national_id
from tests.support.fhir_bulk_samples import (
    CIDS,
    DAY,
    deleted_bundle,
    exported,
    referenced,
    server_store,
)
from tests.support.fhir_bulk_server import (
    BulkServer,
    connector_settings,
    install_credentials,
    public_pem,
    running_bulk_server,
)
from tests.support.machine import TEST_KEY
from tests.support.warehouse_batches import key, table_checksums
from warehouse import consent as cs
from warehouse.consent import Registration, SenderChoice
from warehouse.consent.effects import request_full_history
from warehouse.consent.sender_choice import sync_hospitals
from warehouse.hospital_registry import Registry, load_registry
from warehouse.pipeline.batch import sync_batch
from warehouse.pseudonym import patient_key
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

HOSPITAL = "10998"
NETWORK = "FHIRNET"
ABSENT_CID = national_id(77)  # registers too, but the hospital's server never saw them
CONSENT_DAY = DAY - timedelta(days=1)


def _bangkok(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo("Asia/Bangkok")).astimezone(
        UTC
    )


@pytest.fixture(scope="module")
def client_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def server(client_key: rsa.RSAPrivateKey) -> Iterator[BulkServer]:
    state = BulkServer(public_pem(client_key), exported(), [deleted_bundle()], referenced())
    state.store = server_store()
    with running_bulk_server(state) as running:
        yield running


@pytest.fixture
def world(
    server: BulkServer,
    client_key: rsa.RSAPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Settings, Registry]:
    install_credentials(tmp_path, client_key, monkeypatch)
    registry_dir = tmp_path / "registry"
    (registry_dir / "hospitals").mkdir(parents=True)
    networks = {"networks": [{"code": NETWORK, "name": "FHIR network"}]}
    (registry_dir / "networks.yml").write_text(yaml.safe_dump(networks), encoding="utf-8")
    document = {
        "hospital_code": HOSPITAL,
        "name": "FHIR server hospital",
        "network": NETWORK,
        "health_region": 13,
        "participating_since": DAY - timedelta(days=30),
        "reject_threshold": 0.5,
        "connector": connector_settings(server, tmp_path / "exports"),
    }
    (registry_dir / "hospitals" / f"{HOSPITAL}.yml").write_text(
        yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
    )
    settings = Settings(
        home=tmp_path / "home",
        registry_dir=registry_dir,
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
    )
    setup_warehouse(settings)
    registry = load_registry(registry_dir)
    with connect(settings) as conn:
        sync_hospitals(conn, registry)
        # the consent side's checkpoint before the patients register
        request_full_history(
            conn,
            [HOSPITAL],
            CONSENT_DAY - timedelta(days=1),
            now=_bangkok(CONSENT_DAY - timedelta(days=1), 9),
        )
        for cid in (CIDS[0], ABSENT_CID):
            registered = _bangkok(CONSENT_DAY, 8)
            registration = Registration(
                national_id=cid,
                birth_date=date(1970, 5, 1),
                verification_method="thaid",
                verified_at=registered - timedelta(minutes=5),
                verified_national_id=cid,
                choice=SenderChoice.everyone(),
                sensitive_allowed=False,
            )
            cs.register(conn, registry, registration, key(settings), now=registered)
        asked = request_full_history(conn, [HOSPITAL], CONSENT_DAY, now=_bangkok(CONSENT_DAY, 9))
    assert asked == {HOSPITAL: 2}
    return settings, registry


def _requests(settings: Settings) -> dict[str, date | None]:
    with connect(settings) as conn:
        rows = conn.execute("SELECT patient_key, fulfilled_on FROM ops.history_request").fetchall()
    return dict(rows)


@pytest.mark.parametrize("everything_status", [200, 501], ids=["everything", "type-by-type"])
def test_the_next_days_sync_loads_a_newly_consenting_patients_older_record(
    world: tuple[Settings, Registry], server: BulkServer, everything_status: int
) -> None:
    settings, registry = world
    server.everything_status = everything_status
    secret = key(settings)
    p1, absent = patient_key(CIDS[0], secret), patient_key(ABSENT_CID, secret)

    with capture_logs() as logs:
        summary = sync_batch(registry.hospitals[HOSPITAL], DAY, settings=settings)

    assert summary.status == "loaded", summary.reason
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected + summary.rows_filtered
    with connect(settings) as conn:
        encounters = conn.execute(
            "SELECT encounter_id, service_date FROM raw.encounter WHERE patient_key = ?", [p1]
        ).fetchall()
        diagnoses = conn.execute(
            "SELECT icd10_code FROM raw.diagnosis WHERE patient_key = ? AND encounter_id = 'e0'",
            [p1],
        ).fetchall()
        rejects = conn.execute(
            "SELECT source_file, source_key, field, rule FROM ops.reject WHERE source_key = 'c9'"
        ).fetchall()
        per_entity = conn.execute(
            "SELECT entity, rows_read, rows_loaded, rows_rejected, rows_filtered"
            " FROM ops.batch_entity"
        ).fetchall()
    # last year's visit, which no day's window holds, came with the history
    assert ("e0", date(2025, 6, 10)) in encounters
    assert {e for e, _ in encounters} == {"e0", "e1", "e2"}
    assert diagnoses == [("E119",)]
    assert rejects == [("Condition", "c9", "Condition.code", "code_system_declared")]
    for entity, read, ok, rejected, filtered in per_entity:
        assert read == ok + rejected + filtered, entity
    if everything_status == 200:
        assert server.everything.count("p1") > 1  # the record's pages, through next links
    else:
        assert any(p.get("patient") == "p1" for p in server.search_params)
    # answered, and the patient the server lacks still pending
    assert _requests(settings) == {p1: DAY, absent: None}
    (served,) = [e for e in logs if e["event"] == "history_requests_served"]
    assert (served["patients"], served["not_at_source"]) == (1, 1)
    # no national ID and no patient key in any log event
    text = repr(logs)
    assert not any(secret_ in text for secret_ in (CIDS[0], ABSENT_CID, p1, absent))

    # a re-run of the day asks the server again and changes nothing
    with connect(settings) as conn:
        before = table_checksums(conn, ("raw",))
    again = sync_batch(registry.hospitals[HOSPITAL], DAY, settings=settings)
    assert (again.status, again.batch_id) == ("loaded", summary.batch_id)
    with connect(settings) as conn:
        assert table_checksums(conn, ("raw",)) == before
    assert _requests(settings) == {p1: DAY, absent: None}


def test_a_server_that_fails_the_history_read_leaves_the_requests_pending(
    world: tuple[Settings, Registry], server: BulkServer
) -> None:
    settings, registry = world
    server.everything_status = 500
    summary = sync_batch(registry.hospitals[HOSPITAL], DAY, settings=settings)
    assert (summary.status, summary.reason_code) == ("quarantined", "source_unreachable")
    assert "$everything answered HTTP 500" in summary.reason
    assert set(_requests(settings).values()) == {None}
