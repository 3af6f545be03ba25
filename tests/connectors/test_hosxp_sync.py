"""A HOSxP hospital end to end: registry YAML, consent, sync_batch on DuckDB, a re-run."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import yaml

from synthetic.consent import write_registrations
from synthetic.hosxp import hosxp_registrations
from synthetic.hosxp_demo import hospital_yaml, write_hospital_yaml
from tests.support.hosxp_database import HOSPITAL, HosxpHospital
from tests.support.machine import START, TEST_KEY
from tests.support.warehouse_batches import prepare, table_checksums
from warehouse.consent.effects import HISTORY_SCHEMA
from warehouse.pipeline.batch import sync_batch
from warehouse.pseudonym import patient_key
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


LATER = START + timedelta(days=10)  # no visit of the synthetic hospital is in its window
NOT_AT_SOURCE = "0" * 32  # a patient key no national ID at the source has


def ask_history(settings: Settings, keys: list[str], day: date) -> None:
    """What the consent side writes for newly consenting patients (ops.history_request)."""
    with connect(settings) as conn:
        conn.insert_arrow(
            "ops.history_request",
            pa.Table.from_pydict(
                {
                    "hospital_code": [HOSPITAL] * len(keys),
                    "extract_date": [day] * len(keys),
                    "patient_key": keys,
                    "reason": ["newly_consenting"] * len(keys),
                    "requested_at": [datetime.combine(day, time(1))] * len(keys),
                },
                schema=HISTORY_SCHEMA,
            ),
        )


def requests(settings: Settings) -> dict[str, date | None]:
    with connect(settings) as conn:
        rows = conn.execute("SELECT patient_key, fulfilled_on FROM ops.history_request").fetchall()
    return dict(rows)


def test_a_history_request_is_served_in_the_days_batch_and_reruns_idempotently(
    hosxp: HosxpHospital, tmp_path: Path
) -> None:
    settings = hosxp_warehouse(hosxp, tmp_path)
    hospital = prepare(settings, tmp_path).hospitals[HOSPITAL]
    secret = settings.pseudonym_key.get_secret_value().encode("utf-8")
    rows = hosxp.world.rows
    registered = hosxp.world.patients[UNREGISTERED + 1 :]
    old, touched = [p for p in registered if any(v["hn"] == p["hn"] for v in rows["ovst"])][:2]
    # `touched` changed its address on LATER: its patient row is in the window and the history
    hosxp.execute(
        "UPDATE patient SET last_update = %s WHERE hn = %s",
        (datetime.combine(LATER, time(10)), touched["hn"]),
    )
    connector = hosxp.connector()
    window = connector.read(HOSPITAL, None, LATER)
    assert window.tables["encounter"].num_rows == 0
    assert window.tables["patient"].column("hn").to_pylist() == [touched["hn"]]
    history = connector.read_history(HOSPITAL, [old["cid"], touched["cid"]], LATER)
    distinct = {
        entity: set(window.tables[entity].column("record_key").to_pylist())
        | set(table.column("record_key").to_pylist())
        for entity, table in history.tables.items()
    }
    keys = {p["hn"]: patient_key(p["cid"], secret) for p in (old, touched)}
    ask_history(settings, [*keys.values(), NOT_AT_SOURCE], LATER - timedelta(days=1))

    first = sync_batch(hospital, LATER, settings=settings)
    assert first.status == "loaded", first.reason
    assert first.rows_read == sum(len(k) for k in distinct.values())  # the patient row once
    assert first.rows_read == first.rows_loaded + first.rows_rejected + first.rows_filtered
    assert first.rows_loaded > 0
    old_visits = {v["vn"] for v in rows["ovst"] if v["hn"] == old["hn"]}
    old_admissions = {a["an"] for a in rows["ipt"] if a["hn"] == old["hn"]}
    with connect(settings) as conn:
        encounters = conn.execute(
            "SELECT encounter_id, extract_date, batch_id FROM raw.encounter WHERE patient_key = ?",
            [keys[old["hn"]]],
        ).fetchall()
        patients = conn.execute(
            "SELECT count(*) FROM raw.patient WHERE patient_key = ?", [keys[touched["hn"]]]
        ).fetchone()[0]
        per_entity = conn.execute(
            "SELECT entity, rows_read, rows_loaded, rows_rejected, rows_filtered"
            " FROM ops.batch_entity"
        ).fetchall()
        before = table_checksums(conn, ("raw",))
    assert {e for e, _, _ in encounters} == old_visits | old_admissions
    assert {(d, b) for _, d, b in encounters} == {(LATER, first.batch_id)}
    assert patients == 1
    for entity, read, ok, rejected, filtered in per_entity:
        assert read == ok + rejected + filtered == len(distinct[entity]), entity
    answered = requests(settings)
    assert answered == {**{k: LATER for k in keys.values()}, NOT_AT_SOURCE: None}

    again = sync_batch(hospital, LATER, settings=settings)
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
    assert requests(settings) == answered

    # the next day's window does not send the answered histories again
    following = sync_batch(hospital, LATER + timedelta(days=1), settings=settings)
    assert following.status == "loaded", following.reason
    assert following.rows_read == 1  # touched's patient row, still in the overlap
    assert requests(settings) == answered


def test_a_quarantined_day_leaves_history_requests_pending(
    hosxp: HosxpHospital, tmp_path: Path
) -> None:
    settings = hosxp_warehouse(hosxp, tmp_path)
    hospital = prepare(settings, tmp_path).hospitals[HOSPITAL]
    secret = settings.pseudonym_key.get_secret_value().encode("utf-8")
    asked = patient_key(hosxp.world.patients[UNREGISTERED + 1]["cid"], secret)
    ask_history(settings, [asked], LATER)
    hosxp.execute("ALTER TABLE opitemrece DROP COLUMN qty")
    summary = sync_batch(hospital, LATER, settings=settings)
    assert (summary.status, summary.reason_code) == ("quarantined", "missing_column")
    assert requests(settings) == {asked: None}
    with connect(settings) as conn:
        assert conn.execute("SELECT count(*) FROM raw.encounter").fetchone()[0] == 0
