"""A HOSxP hospital end to end: registry YAML, consent, sync_batch on DuckDB, a re-run."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import yaml

from synthetic.consent import write_registrations
from synthetic.hosxp import hosxp_registrations
from synthetic.hosxp_demo import hospital_yaml, write_hospital_yaml
from tests.support.hosxp_database import HOSPITAL, HosxpHospital
from tests.support.machine import START, TEST_KEY
from tests.support.warehouse_batches import prepare, table_checksums
from warehouse.pipeline.batch import sync_batch
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

DAY = START + timedelta(days=2)
UNREGISTERED = 5  # patients without consent: their rows are filtered


def hosxp_warehouse(hosxp: HosxpHospital, folder: Path) -> Settings:
    registry = folder / "registry"
    registry.mkdir()
    networks = {"networks": [{"code": "NE1", "name": "เครือข่ายทดสอบ", "consent_type": "one_time"}]}
    (registry / "networks.yml").write_text(
        yaml.safe_dump(networks, allow_unicode=True), encoding="utf-8"
    )
    connector = hosxp.settings.model_dump(mode="json", exclude_defaults=True) | {"kind": "hosxp"}
    document = hospital_yaml(
        HOSPITAL,
        name="โรงพยาบาลทดสอบ",
        network="NE1",
        health_region=9,
        participating_since=START,
        connector=connector,
        reject_threshold=0.2,
    )
    write_hospital_yaml(registry, document)
    registered = datetime.combine(START - timedelta(days=30), time(9))
    write_registrations(folder, hosxp_registrations(hosxp.world, registered, skip=UNREGISTERED))
    settings = Settings(
        home=folder / "home",
        registry_dir=registry,
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
        warehouse="",
    )
    setup_warehouse(settings)
    return settings


def test_a_hosxp_day_loads_accounts_for_every_row_and_reruns_idempotently(
    hosxp: HosxpHospital, tmp_path: Path
) -> None:
    bad_visit = hosxp.world.rows["ovst"][-1]["vn"]
    hosxp.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
    hosxp.execute("UPDATE ovst SET vstdate = '2026-11-31' WHERE vn = %s", (bad_visit,))
    settings = hosxp_warehouse(hosxp, tmp_path)
    # a registered patient whose national ID no longer passes its check digit
    unreadable = hosxp.world.patients[UNREGISTERED]
    broken = unreadable["cid"][:12] + str((int(unreadable["cid"][12]) + 1) % 10)
    hosxp.execute("UPDATE patient SET cid = %s WHERE hn = %s", (broken, unreadable["hn"]))
    registry = prepare(settings, tmp_path)
    hospital = registry.hospitals[HOSPITAL]
    extract = hosxp.connector().read(HOSPITAL, None, DAY)
    yielded = sum(t.num_rows for t in extract.tables.values()) + len(extract.rejected)

    first = sync_batch(hospital, DAY, settings=settings)
    assert first.status == "loaded", first.reason
    assert first.batch_id == extract.batch_id
    assert first.rows_read == yielded
    assert first.rows_read == first.rows_loaded + first.rows_rejected + first.rows_filtered
    assert first.rows_filtered > 0
    assert first.rows_rejected > len(extract.rejected) > 0
    with connect(settings) as conn:
        per_entity = conn.execute(
            "SELECT entity, rows_read, rows_loaded, rows_rejected, rows_filtered FROM ops.batch_entity"
        ).fetchall()
        loaded = {
            entity: conn.execute(f"SELECT count(*) FROM raw.{entity}").fetchone()[0]
            for entity, *_ in per_entity
        }
        rejects = conn.execute(
            "SELECT source_file, source_key, field, rule FROM ops.reject"
        ).fetchall()
        window = conn.execute("SELECT window_start, window_end FROM ops.batch").fetchone()
        before = table_checksums(conn, ("raw",))
    assert len(per_entity) == 10
    for entity, read, ok, rejected, filtered in per_entity:
        assert read == ok + rejected + filtered, entity
        assert loaded[entity] == ok, entity
        assert ok > 0, entity  # every category reaches raw
    assert ("ovst", bad_visit, "ovst.vstdate", "row_readable") in rejects
    # the consent filter names HOSxP rows by table and primary key too
    assert ("patient", unreadable["hn"], "patient.cid", "national_id_readable") in rejects
    visits = [v["vn"] for v in hosxp.world.rows["ovst"] if v["hn"] == unreadable["hn"]]
    assert {("ovst", vn, "patient.cid", "national_id_readable") for vn in visits} <= set(rejects)
    assert all(key for _, key, _, _ in rejects)
    assert len(rejects) == first.rows_rejected
    assert window[0] is not None and window[1] is not None

    again = sync_batch(hospital, DAY, settings=settings)
    assert again.status == "loaded", again.reason
    assert again.batch_id == first.batch_id
    assert (again.rows_read, again.rows_loaded, again.rows_rejected, again.rows_filtered) == (
        first.rows_read,
        first.rows_loaded,
        first.rows_rejected,
        first.rows_filtered,
    )
    with connect(settings) as conn:
        assert table_checksums(conn, ("raw",)) == before


def test_a_column_the_contract_needs_quarantines_the_day_with_its_window(
    hosxp: HosxpHospital, tmp_path: Path
) -> None:
    settings = hosxp_warehouse(hosxp, tmp_path)
    hospital = prepare(settings, tmp_path).hospitals[HOSPITAL]
    hosxp.execute("ALTER TABLE opitemrece DROP COLUMN qty")
    summary = sync_batch(hospital, DAY, settings=settings)
    assert (summary.status, summary.reason_code) == ("quarantined", "missing_column")
    assert "opitemrece" in summary.reason and "qty" in summary.reason
    window = hosxp.connector().window(DAY)
    with connect(settings) as conn:
        recorded = conn.execute(
            "SELECT reason_code, window_start, window_end FROM ops.quarantine"
        ).fetchone()
        assert conn.execute("SELECT count(*) FROM raw.medication_dispense").fetchone()[0] == 0
    assert recorded[0] == "missing_column"
    # stored in UTC (docs/contract.md "Timestamps in storage")
    assert recorded[1] == window.start_utc.replace(tzinfo=None)
    assert recorded[2] == window.end_utc.replace(tzinfo=None)
