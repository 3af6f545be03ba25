"""The FHIR bulk connector against a real Bulk Data server (tests/support/fhir_bulk_server.py):
SMART Backend Services, $export kick-off with _since, Retry-After polling, download, the
manifest's deletions and transactionTime, every resource type the contract takes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fhir.resources.R4B import get_fhir_model_class

from connectors.base import Connector, ExtractError, Location
from connectors.fhir_bulk.connector import WANTED
from connectors.registry import build_connector
from tests.support.fhir_bulk_samples import (
    CIDS,
    DAY,
    TRANSACTION_TIME,
    deleted_bundle,
    exported,
    referenced,
)
from tests.support.fhir_bulk_server import BulkServer, connector_settings, pem

HOSPITAL = "10998"


def _connector(server: BulkServer, path: Path, **server_extra: object) -> Connector:
    return build_connector(connector_settings(server, path, **server_extra))


def test_the_samples_are_valid_r4b() -> None:
    resources = [r for rs in exported().values() for r in rs]
    for resource in [*resources, *referenced(), deleted_bundle()]:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert {r["resourceType"] for r in resources} == WANTED


def test_export_kick_off_poll_download(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    connector = _connector(server, tmp_path / "exports")
    extract = connector.read(HOSPITAL, None, DAY)

    window = connector.window(DAY)
    assert window is not None and extract.window == window
    (kickoff,) = server.kickoffs
    assert kickoff["prefer"] == "respond-async"
    assert (
        kickoff["params"]["_since"]
        == "2026-11-20T17:00:00Z"
        == (window.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"))
    )
    assert set(kickoff["params"]["_type"].split(",")) == WANTED
    # One 202 with Retry-After: 1, then the manifest, polled no sooner than asked.
    assert len(server.poll_times) == 2
    assert server.poll_times[1] - server.poll_times[0] >= 0.95
    assert server.refused_tokens == 0 and len(server.tokens) == 1

    saved = orjson.loads((tmp_path / "exports" / DAY.isoformat() / "manifest.json").read_bytes())
    assert saved["transactionTime"] == TRANSACTION_TIME
    assert {"type": "Patient", "url": "Patient.referenced.ndjson"} in saved["output"]
    assert not (tmp_path / "exports" / f"{DAY.isoformat()}.partial").exists()

    counts = {entity: table.num_rows for entity, table in extract.tables.items()}
    assert counts == {
        "patient": 1,  # p2 was fetched for its national ID, but was updated long ago
        "encounter": 2,
        "diagnosis": 2,  # c1 once (its latest version), c2; c3 is the next day's
        "medication_dispense": 2,
        "procedure": 1,  # pr2 deleted
        "immunization": 1,
        "vital_sign": 4,
        "lab_result": 2,
        "imaging_report": 2,
        "allergy": 1,
    }
    assert extract.deleted == [Location.fhir("Procedure", "pr2")]
    assert server.searches == ["Patient"]


def test_rows_carry_the_contract_values(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    extract = _connector(server, tmp_path / "exports").read(HOSPITAL, None, DAY)
    rows = {e: t.to_pylist() for e, t in extract.tables.items()}
    (patient,) = rows["patient"]
    assert (patient["cid"], patient["hn"], patient["sex"]) == (CIDS[0], "HN-p1", "female")
    assert str(patient["recorded_at"]) == "2026-11-23 10:00:00"  # 03:00Z in Bangkok
    by_id = {r["record_key"]: r for r in rows["diagnosis"]}
    assert by_id["Condition|c1"]["icd10_code"] == "E119"  # the newer version, dot removed
    assert by_id["Condition|c1"]["provider_id"] == "d1"
    assert by_id["Condition|c2"]["cid"] == CIDS[1]  # the referenced Patient, fetched by id
    assert str(by_id["Condition|c2"]["service_date"]) == "2026-11-22"
    visits = {r["encounter_id"]: r for r in rows["encounter"]}
    assert visits["e1"]["encounter_class"] == "OPD" and visits["e2"]["encounter_class"] == "IPD"
    assert visits["e2"]["admission_id"] == "e2" and visits["e1"]["chief_complaint"] == "ไข้"
    assert str(visits["e2"]["service_date"]) == "2026-11-21"
    vitals = {r["vital_code"]: (r["value"], r["unit"]) for r in rows["vital_sign"]}
    assert vitals == {
        "systolic_bp": (120.0, "mm[Hg]"),
        "diastolic_bp": (80.0, "mm[Hg]"),
        "body_temperature": (37.0, "Cel"),  # sent in [degF]
        "body_weight": (69.85, "kg"),  # sent in [lb_av]
    }
    labs = {r["lab_code"]: (r["result_value"], r["result_text"]) for r in rows["lab_result"]}
    assert labs == {"0531002": (6.5, None), "0546401": (None, "<0.5")}
    dispensed = {r["drug_code"]: r for r in rows["medication_dispense"]}
    assert dispensed["662401"]["quantity"] == 60 and dispensed["662401"]["encounter_id"] == "e1"
    assert dispensed["100000000000000000000001"]["encounter_class"] == "IPD"
    assert rows["immunization"][0]["vaccine_code"] == "010"
    assert rows["procedure"][0]["procedure_code"] == "8952"
    imaging = {r["study_id"]: r for r in rows["imaging_report"]}
    assert imaging["ACC-1"]["conclusion"] == "No active lesion"
    assert (imaging["ACC-2"]["modality"], imaging["ACC-2"]["body_site"]) == ("CR", "chest")
    assert rows["allergy"][0]["drug_code"] == "662401"
    assert rows["allergy"][0]["severity"] == "high"
    (pain,) = extract.rejected  # a vital-signs code the contract has no column for
    assert (pain.entity, pain.location, pain.field, pain.rule) == (
        "vital_sign",
        Location.fhir("Observation", "pain1"),
        "Observation.code",
        "code_mappable",
    )


def test_a_re_run_reads_the_saved_export_and_a_later_day_starts_from_its_transaction_time(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    connector = _connector(server, tmp_path / "exports")
    first = connector.read(HOSPITAL, None, DAY)
    asked = server.requests
    again = connector.read(HOSPITAL, None, DAY)
    assert server.requests == asked  # the day's folder holds a whole export: no new request
    assert again.batch_id == first.batch_id
    # Five days later the window starts after the last export: _since goes back to it.
    connector.read(HOSPITAL, None, DAY + timedelta(days=5))
    assert server.kickoffs[-1]["params"]["_since"] == TRANSACTION_TIME
    # The next day's window starts before it, so the window's start is used.
    connector.read(HOSPITAL, None, DAY + timedelta(days=1))
    assert server.kickoffs[-1]["params"]["_since"] == "2026-11-21T17:00:00Z"


def test_a_key_the_server_does_not_know_is_refused(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    credentials.write_bytes(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    with pytest.raises(ExtractError) as refused:
        _connector(server, tmp_path / "exports").read(HOSPITAL, None, DAY)
    assert refused.value.reason_code == "source_unreachable"
    assert "401" in str(refused.value) and "PRIVATE" not in str(refused.value)
    assert server.refused_tokens == 1 and server.kickoffs == []
    assert list((tmp_path / "exports").iterdir()) == []  # no half export left


def test_missing_credentials_name_the_variables_only(
    server: BulkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEALTHLINK_FHIR_CLIENT_ID_H10998", raising=False)
    with pytest.raises(ExtractError, match="HEALTHLINK_FHIR_CLIENT_ID_H10998") as missing:
        _connector(server, tmp_path / "exports").read(HOSPITAL, None, DAY)
    assert missing.value.reason_code == "missing_credentials"
    assert server.requests == 0


def test_an_export_that_does_not_finish_in_time_stops_the_batch(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    server.pending_polls = 100
    with pytest.raises(ExtractError, match="not complete within") as late:
        _connector(server, tmp_path / "exports", timeout_s=0.5).read(HOSPITAL, None, DAY)
    assert late.value.reason_code == "source_unreachable"
    assert len(server.poll_times) == 1  # it does not poll sooner than Retry-After says
    assert list((tmp_path / "exports").iterdir()) == []


def _outcome(severity: str) -> dict[str, object]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": "processing", "diagnostics": "export failed"}],
    }


def test_an_export_with_errors_is_incomplete_and_quarantined(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    server.errors = [_outcome("warning"), _outcome("error")]
    get_fhir_model_class("OperationOutcome").model_validate(server.errors[1])
    with pytest.raises(ExtractError, match="could not export") as incomplete:
        _connector(server, tmp_path / "exports").read(HOSPITAL, None, DAY)
    assert incomplete.value.reason_code == "unreadable"
    assert (incomplete.value.source_file, incomplete.value.source_line) == (
        "error.OperationOutcome.000.ndjson",
        2,
    )
    # Warnings alone do not stop the batch.
    server.errors = [_outcome("warning")]
    (tmp_path / "again").mkdir()
    extract = _connector(server, tmp_path / "again").read(HOSPITAL, None, DAY)
    assert extract.tables["patient"].num_rows == 1


def test_the_token_never_goes_to_another_origin(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    server.files_host = "localhost"  # the same server under another name: another origin
    with pytest.raises(ExtractError, match="another origin") as refused:
        _connector(server, tmp_path / "exports").read(HOSPITAL, None, DAY)
    assert refused.value.reason_code == "source_unreachable"
    assert server.downloads == []
