"""Schema drift: a source's columns change since its last loaded extract. `freeze` (the
default) quarantines naming the change; `evolve` loads, records it and alerts; a column the
contract needs stops the batch under either policy. Both warehouses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.machine import START
from tests.support.warehouse_batches import prepare
from warehouse.hospital_registry import Hospital
from warehouse.pipeline.batch import sync_batch
from warehouse.settings import Settings
from warehouse.storage.connection import connect

# Looks like a national ID: a "header" name that is really data must never be repeated.
PLANTED = "1101700203451"


def _header_hospital(settings: Settings, dataset: Path) -> Hospital:
    registry = prepare(settings, dataset)
    manifest = json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))
    for info in manifest["hospitals"]:
        hospital = registry.hospitals[str(info["hospital_code"])]
        if hospital.connector.header and hospital.connector.encoding == "utf-8":
            return hospital
    raise AssertionError("the dataset has no UTF-8 hospital with a header")


def _with_added_column(hospital: Hospital, tmp_path: Path) -> Path:
    """The day's extract with one more column in DRUGALLERGY.txt, named like data."""
    folder = tmp_path / "drifted"
    shutil.copytree(Path(hospital.connector.path) / START.isoformat(), folder)
    path = folder / "DRUGALLERGY.txt"
    lines = path.read_bytes().split(b"\n")
    lines = [
        line + (b"|" + PLANTED.encode() if i == 0 else b"|x") if line else line
        for i, line in enumerate(lines)
    ]
    path.write_bytes(b"\n".join(lines))
    return folder


def _without_column(hospital: Hospital, tmp_path: Path, column: bytes) -> Path:
    folder = tmp_path / "narrowed"
    shutil.copytree(Path(hospital.connector.path) / START.isoformat(), folder)
    path = folder / "DRUGALLERGY.txt"
    rows = [line.split(b"|") for line in path.read_bytes().split(b"\n")]
    drop = rows[0].index(column)
    path.write_bytes(
        b"\n".join(b"|".join(r[:drop] + r[drop + 1 :]) if r != [b""] else b"" for r in rows)
    )
    return folder


def test_the_first_batch_sets_the_baseline(settings: Settings, dataset: Path) -> None:
    hospital = _header_hospital(settings, dataset)
    assert sync_batch(hospital, START, settings=settings).status == "loaded"
    with connect(settings) as conn:
        sources = dict(
            conn.execute(
                "SELECT source, columns FROM ops.source_schema WHERE hospital_code = ?",
                [hospital.hospital_code],
            ).fetchall()
        )
        changes = conn.execute("SELECT count(*) FROM ops.schema_change").fetchone()[0]
    assert "PERSON" in sources and "CID" in json.loads(sources["PERSON"])
    assert changes == 0


def test_freeze_quarantines_a_changed_source_naming_the_change_never_its_data(
    settings: Settings, dataset: Path, tmp_path: Path
) -> None:
    hospital = _header_hospital(settings, dataset)
    assert hospital.schema_drift == "freeze"  # the default
    sync_batch(hospital, START, settings=settings)
    drifted = _with_added_column(hospital, tmp_path)
    summary = sync_batch(hospital, START, extract_dir=drifted, settings=settings)
    assert summary.status == "quarantined"
    assert summary.reason_code == "schema_drift"
    assert "DRUGALLERGY: added +1 other" in (summary.reason or "")
    assert PLANTED not in (summary.reason or "")
    assert (
        summary.rows_read
        == summary.rows_rejected + summary.rows_filtered + summary.rows_quarantined
    )
    # The baseline stays what was last loaded: the next day is judged against it too.
    with connect(settings) as conn:
        (columns,) = conn.execute(
            "SELECT columns FROM ops.source_schema WHERE hospital_code = ? AND source = ?",
            [hospital.hospital_code, "DRUGALLERGY"],
        ).fetchone()
    assert "+1 other" not in json.loads(columns)


def test_evolve_loads_records_the_change_and_moves_the_baseline(
    settings: Settings, dataset: Path, tmp_path: Path
) -> None:
    hospital = _header_hospital(settings, dataset).model_copy(update={"schema_drift": "evolve"})
    first = sync_batch(hospital, START, settings=settings)
    drifted = _with_added_column(hospital, tmp_path)
    summary = sync_batch(hospital, START, extract_dir=drifted, settings=settings)
    assert summary.status == "loaded"
    assert summary.rows_loaded == first.rows_loaded
    with connect(settings) as conn:
        changes = conn.execute(
            "SELECT source, change, policy FROM ops.schema_change WHERE hospital_code = ?",
            [hospital.hospital_code],
        ).fetchall()
        (columns,) = conn.execute(
            "SELECT columns FROM ops.source_schema WHERE hospital_code = ? AND source = ?",
            [hospital.hospital_code, "DRUGALLERGY"],
        ).fetchone()
    assert changes == [("DRUGALLERGY", "DRUGALLERGY: added +1 other", "evolve")]
    assert "+1 other" in json.loads(columns)


def test_a_column_the_contract_needs_stops_the_batch_under_evolve_too(
    settings: Settings, dataset: Path, tmp_path: Path
) -> None:
    hospital = _header_hospital(settings, dataset).model_copy(update={"schema_drift": "evolve"})
    sync_batch(hospital, START, settings=settings)
    narrowed = _without_column(hospital, tmp_path, b"DNAME")
    summary = sync_batch(hospital, START, extract_dir=narrowed, settings=settings)
    assert summary.status == "quarantined"
    assert summary.reason_code == "missing_column"
    assert "DNAME" in (summary.reason or "")
