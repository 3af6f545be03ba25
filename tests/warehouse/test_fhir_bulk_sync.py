"""A FHIR bulk hospital through sync_batch on DuckDB: the Synthea sample with Thai IDs
(synthetic.fhir_hospital), consent registrations for its living adults, then raw, the
accounting (read = loaded + rejected + filtered) and an idempotent re-run of the day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from connectors.registry import build_connector
from synthetic.fhir_hospital import (
    THAI_ID_SYSTEM,
    FhirHospital,
    ThaiPatient,
    append_registrations,
    build_demo_fhir_hospital,
)
from tests.support.fhir_bulk_samples import CIDS, write_export
from tests.support.machine import START, TEST_KEY
from tests.support.warehouse_batches import key, table_checksums
from warehouse.consent.sender_choice import import_registrations, sync_hospitals
from warehouse.hospital_registry import Registry, load_registry
from warehouse.pipeline.batch import sync_batch
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

NETWORK = "FHIRNET"
THAI_SAMPLE = "10998"


@pytest.fixture
def world(tmp_path: Path) -> tuple[Settings, Registry, FhirHospital]:
    out = tmp_path / "world"
    (out / "registry").mkdir(parents=True)
    networks = {"networks": [{"code": NETWORK, "name": "FHIR network"}]}
    (out / "registry" / "networks.yml").write_text(yaml.safe_dump(networks), encoding="utf-8")
    hospital = build_demo_fhir_hospital(
        out,
        out / "registry",
        hospital_code="10999",
        network=NETWORK,
        health_region=13,
        start=START,
    )
    _thai_sample_hospital(out)
    settings = Settings(
        home=tmp_path / "home",
        registry_dir=out / "registry",
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
    )
    setup_warehouse(settings)
    registry = load_registry(settings.registry_dir)
    with connect(settings) as conn:
        sync_hospitals(conn, registry)
        for feed in sorted((out / "consent").glob("*.csv")):
            import_registrations(conn, feed, key(settings))
    return settings, registry, hospital


def _thai_sample_hospital(out: Path) -> None:
    """Hospital THAI_SAMPLE: the connector tests' samples (every resource type, Thai codes)
    as a day folder with its manifest; its patient registered for ALL hospitals."""
    write_export(out / "fhir" / THAI_SAMPLE / START.isoformat())
    document = {
        "hospital_code": THAI_SAMPLE,
        "name": "FHIR sample hospital",
        "network": NETWORK,
        "health_region": 13,
        "participating_since": START - timedelta(days=30),
        "reject_threshold": 0.5,  # 3 of its 20 rows are rejects by design
        "connector": {
            "kind": "fhir_bulk",
            "path": f"../../fhir/{THAI_SAMPLE}",
            "national_id_system": THAI_ID_SYSTEM,
        },
    }
    yaml_path = out / "registry" / "hospitals" / f"{THAI_SAMPLE}.yml"
    yaml_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    patient = ThaiPatient("p1", CIDS[0], date(1970, 5, 1), deceased=False)
    append_registrations(out / "consent" / f"registrations-{THAI_SAMPLE}.csv", [patient], START)


def test_every_category_of_a_thai_export_lands_in_raw(
    world: tuple[Settings, Registry, FhirHospital],
) -> None:
    settings, registry, _ = world
    with capture_logs() as logs:
        summary = sync_batch(registry.hospitals[THAI_SAMPLE], START, settings=settings)
    # Procedure pr2 is in the manifest's deleted Bundle: not loaded, and said so (counts);
    # the warehouse never held it, so the deletion removes nothing.
    (deletions,) = [e for e in logs if e["event"] == "source_deletions_applied"]
    assert (deletions["hospital"], deletions["deleted"]) == (THAI_SAMPLE, 1)
    assert (deletions["log_level"], deletions["raw_rows_removed"]) == ("info", 0)
    assert summary.rows_deleted == 1
    with connect(settings) as conn:
        loaded = {
            entity: conn.execute(
                f"SELECT count(*) FROM raw.{entity} WHERE hospital_code = ?", [THAI_SAMPLE]
            ).fetchone()[0]
            for entity in summary.entities
        }
        rejects = conn.execute(
            "SELECT entity, source_file, source_key, field, rule FROM ops.reject "
            "WHERE hospital_code = ? ORDER BY source_key",
            [THAI_SAMPLE],
        ).fetchall()
    assert summary.status == "loaded", summary.reason
    assert loaded == {e: c.rows_loaded for e, c in summary.entities.items()}
    assert all(loaded[e] > 0 for e in loaded), loaded  # all nine categories (and patients)
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected + summary.rows_filtered
    assert rejects == [
        # c2 names a Patient the folder lacks (a server export fetches it; a folder cannot)
        ("diagnosis", "Condition", "c2", "Condition.subject", "reference_resolvable"),
        # c3 was updated on the 24th: later than the extract day allows
        (
            "diagnosis",
            "Condition",
            "c3",
            "Condition.meta.lastUpdated",
            "expect_column_values_to_be_between",
        ),
        ("vital_sign", "Observation", "pain1", "Observation.code", "code_mappable"),
    ]


def test_a_fhir_hospital_lands_in_raw_and_every_row_is_accounted_for(
    world: tuple[Settings, Registry, FhirHospital],
) -> None:
    settings, registry, hospital = world
    code = hospital.hospital_code
    summary = sync_batch(registry.hospitals[code], START, settings=settings)
    assert summary.status == "loaded"
    extract = build_connector(registry.hospitals[code].connector).read(code, None, START)
    assert summary.batch_id == extract.batch_id
    read = sum(t.num_rows for t in extract.tables.values()) + len(extract.rejected)
    assert summary.rows_read == read
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected + summary.rows_filtered
    registered = {p.cid for p in hospital.patients if not p.deceased}
    assert summary.rows_filtered > 0  # the children and the dead did not register
    with connect(settings) as conn:
        per_entity = conn.execute(
            "SELECT entity, rows_read, rows_loaded, rows_rejected, rows_filtered "
            "FROM ops.batch_entity WHERE hospital_code = ?",
            [code],
        ).fetchall()
        patients = conn.execute("SELECT cid FROM raw.patient WHERE hospital_code = ?", [code])
        loaded_cids = {cid for (cid,) in patients.fetchall()}
        encounters = conn.execute(
            "SELECT count(*) FROM raw.encounter WHERE hospital_code = ?", [code]
        ).fetchone()[0]
        rejects = conn.execute(
            "SELECT entity, source_file, source_line, source_key, field, reason "
            "FROM ops.reject WHERE hospital_code = ?",
            [code],
        ).fetchall()
    for entity, rows_read, loaded, rejected, filtered in per_entity:
        assert rows_read == loaded + rejected + filtered, entity
    assert loaded_cids and loaded_cids <= registered
    assert encounters > 0
    # The declared SNOMED CT diagnoses and CVX vaccines load, with their system: nothing of
    # the sample is refused any more.
    assert rejects == [] and summary.rows_rejected == 0
    loaded = {e: c.rows_loaded for e, c in summary.entities.items()}
    assert loaded["diagnosis"] > 0 and loaded["immunization"] > 0
    assert set(extract.tables["diagnosis"].column("code_system").to_pylist()) == {"snomed"}
    assert set(extract.tables["immunization"].column("code_system").to_pylist()) == {"cvx"}


def test_re_running_the_day_changes_nothing(
    world: tuple[Settings, Registry, FhirHospital],
) -> None:
    settings, registry, hospital = world
    first = sync_batch(registry.hospitals[hospital.hospital_code], START, settings=settings)
    with connect(settings) as conn:
        before = table_checksums(conn, ("raw",))
    again = sync_batch(registry.hospitals[hospital.hospital_code], START, settings=settings)
    with connect(settings) as conn:
        after = table_checksums(conn, ("raw",))
    assert again.batch_id == first.batch_id and again.status == "loaded"
    assert (again.rows_loaded, again.rows_rejected, again.rows_filtered) == (
        first.rows_loaded,
        first.rows_rejected,
        first.rows_filtered,
    )
    assert after == before


def test_the_demo_hospital_s_second_day_is_an_incremental_export(
    world: tuple[Settings, Registry, FhirHospital],
) -> None:
    settings, registry, hospital = world
    hospital_yaml = registry.hospitals[hospital.hospital_code]
    first = sync_batch(hospital_yaml, START, settings=settings)
    second = sync_batch(hospital_yaml, START + timedelta(days=1), settings=settings)
    assert (first.status, second.status) == ("loaded", "loaded")
    assert second.entities["patient"].rows_read == first.entities["patient"].rows_read
    assert second.rows_read == second.entities["patient"].rows_read  # only the Patients
    assert second.entities["patient"].rows_loaded == first.entities["patient"].rows_loaded > 0
