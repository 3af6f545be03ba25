"""A FHIR server asked for patients' full records (history requests), over real HTTP against
the test Bulk Data server: the Patient search that lists national IDs, `$everything` paged
through `next` links, the per-type searches when `$everything` is refused, 429 waited out."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest
from fhir.resources.R4B import get_fhir_model_class

from connectors.base import Location
from connectors.fhir_bulk.connector import WANTED, FhirBulkConnector
from connectors.registry import build_connector
from tests.support.fhir_bulk_samples import CIDS, DAY, OTHER_CID, older_record, server_store
from tests.support.fhir_bulk_server import BulkServer, connector_settings

HOSPITAL = "10998"


def _connector(server: BulkServer, path: Path) -> FhirBulkConnector:
    connector = build_connector(connector_settings(server, path))
    assert isinstance(connector, FhirBulkConnector)
    return connector


def _ids(table: pa.Table) -> set[str]:
    return set(table.column("record_key").to_pylist())


def test_the_server_records_are_valid_r4b() -> None:
    for resource in [*server_store(), *older_record()]:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_only_a_hospital_with_a_server_can_be_asked(server: BulkServer, tmp_path: Path) -> None:
    assert _connector(server, tmp_path).supports_history
    folder_only = connector_settings(server, tmp_path)
    del folder_only["server"]
    connector = build_connector(folder_only)
    assert not connector.supports_history
    with pytest.raises(NotImplementedError):
        list(connector.national_ids())


def test_national_ids_list_every_patient_through_the_pages(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    server.page_size = 2  # three Patients: two pages
    ids = list(_connector(server, tmp_path).national_ids())
    assert sorted(ids) == sorted([CIDS[0], CIDS[1], OTHER_CID])
    patient_searches = [
        p for k, p in zip(server.searches, server.search_params, strict=True) if k == "Patient"
    ]
    assert len(patient_searches) == 2 and patient_searches[1]["_offset"] == "2"
    # no national ID goes to the server
    assert not any(cid in str(p) for p in server.search_params for cid in ids)


def test_a_patients_whole_record_is_read_with_everything_page_by_page(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    connector = _connector(server, tmp_path)
    list(connector.national_ids())
    history = connector.read_history(HOSPITAL, [CIDS[0]], DAY)

    assert history.window is None
    assert server.everything.count("p1") > 3  # p1's record is longer than a page: next links
    assert {"p2", "p3"}.isdisjoint(server.everything)
    assert _ids(history.tables["encounter"]) == {"Encounter|e0", "Encounter|e1", "Encounter|e2"}
    assert _ids(history.tables["diagnosis"]) == {"Condition|c0", "Condition|c1", "Condition|c3"}
    assert history.tables["patient"].column("cid").to_pylist() == [CIDS[0]]
    assert history.tables["procedure"].num_rows == 1  # pr2 was deleted at the source
    for table in history.tables.values():
        assert set(table.column("extract_date").to_pylist()) <= {DAY}
        assert set(table.column("batch_id").to_pylist()) <= {history.batch_id}
    diagnoses = {r["record_key"]: r for r in history.tables["diagnosis"].to_pylist()}
    c0 = diagnoses["Condition|c0"]
    assert (c0["icd10_code"], str(c0["service_date"]), c0["cid"]) == ("E119", "2025-06-10", CIDS[0])
    # the rejects name the resource type and id and the element, never a value
    rejected = {(r.entity, r.location, r.field, r.rule) for r in history.rejected}
    assert rejected == {
        ("diagnosis", Location.fhir("Condition", "c9"), "Condition.code", "code_system_declared"),
        ("vital_sign", Location.fhir("Observation", "pain1"), "Observation.code", "code_mappable"),
    }
    assert all("44054006" not in r.reason for r in history.rejected)
    assert {f.name for f in history.files} >= {"Condition.history.ndjson", "Patient.history.ndjson"}

    # the server answering in another order reads the same: the batch id does not change
    server.store.reverse()
    again = _connector(server, tmp_path).read_history(HOSPITAL, [CIDS[0]], DAY)
    assert again.batch_id == history.batch_id


def test_a_server_without_everything_is_asked_type_by_type(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    whole = _connector(server, tmp_path).read_history(HOSPITAL, [CIDS[0]], DAY)
    server.everything_status = 501
    server.search_params.clear()
    searches_before = len(server.searches)
    by_type = _connector(server, tmp_path).read_history(HOSPITAL, [CIDS[0]], DAY)

    assert by_type.batch_id == whole.batch_id
    assert {e: _ids(t) for e, t in by_type.tables.items()} == {
        e: _ids(t) for e, t in whole.tables.items()
    }
    asked = server.searches[searches_before:]
    assert set(asked) == WANTED
    by_patient = [p for p in server.search_params if "patient" in p]
    assert by_patient and {p["patient"] for p in by_patient} == {"p1"}
    assert {"_id": "p1", "_count": "500"} in server.search_params  # the Patient itself


def test_a_busy_server_is_asked_again_after_retry_after(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    server.throttled = 1  # the first $everything answers 429, Retry-After: 1
    connector = _connector(server, tmp_path)
    list(connector.national_ids())
    started = time.monotonic()
    history = connector.read_history(HOSPITAL, [CIDS[0]], DAY)
    assert time.monotonic() - started >= 0.95  # not asked again sooner than told
    assert history.tables["encounter"].num_rows == 3
    assert len(server.throttle_times) == 1 and server.everything[:2] == ["p1", "p1"]
    assert server.refused_tokens == 0


def test_a_national_id_the_server_lacks_reads_nothing(
    server: BulkServer, credentials: Path, tmp_path: Path
) -> None:
    absent = "1" * 13
    history = _connector(server, tmp_path).read_history(HOSPITAL, [absent], DAY)
    assert sum(t.num_rows for t in history.tables.values()) == 0
    assert server.everything == []
