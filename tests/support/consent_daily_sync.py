"""The daily sync as the stateful consent test drives it: real extracts, the real pipeline.

Every participating hospital sends a small 43-file extract each day with a visit of every
test patient (the hospital's side does not know consent); `run_daily_sync` then runs the
pipeline's own steps: prepare_run (consent's effects, the purge among them), sync_hospital
(parse, consent filter at load time, validate, land, load), dbt, finish_run. Only dbt is
narrowed: `dbt run` of the marts and published models (no seeds, no tests; the staging
and intermediate views stay as the template's build left them).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from connectors.file43.layout import FILE_NAMES
from tests.support.consent_kit import key_of, national_id
from tests.support.consent_published import ModelPatient, networks_of
from tests.support.file43_extracts import write_file
from warehouse.consent.purge import purgeable_tables
from warehouse.hospital_registry import Registry, load_registry
from warehouse.pipeline.daily_run import finish_run, prepare_run, sync_hospital
from warehouse.pipeline.transform import run_dbt
from warehouse.settings import Settings

# What a sync changes under the published layer: the marts and the published models (on
# PostgreSQL also the <category>_rows tables under the views, incremental like the marts).
# Staging and intermediate views do not change with the data.
DBT_SELECTION = ["run", "--select", "marts", "published"]
HIV = "B24"  # a sensitive principal diagnosis
PARACETAMOL = "101011121002817000000120"


def write_registry(registry: Registry, registry_dir: Path, extracts: Path) -> None:
    """The registry as YAML files, each hospital's extracts under extracts/<code>/."""
    (registry_dir / "hospitals").mkdir(parents=True, exist_ok=True)
    networks = [network.model_dump(mode="json") for network in registry.networks.values()]
    (registry_dir / "networks.yml").write_text(yaml.safe_dump({"networks": networks}))
    for code, hospital in registry.hospitals.items():
        data = hospital.model_dump(mode="json", exclude_none=True)
        data["connector"] = {"kind": "file43", "path": str(extracts / code)}
        (registry_dir / "hospitals" / f"{code}.yml").write_text(yaml.safe_dump(data))


def is_hiv_visit(serial: int, day: date) -> bool:
    """Some visits are sensitive, so the sensitive-data choice matters for loaded rows too."""
    return (serial + day.toordinal()) % 3 == 0


def write_extract(extracts: Path, hospital: str, day: date, serials: tuple[int, ...]) -> Path:
    """One day's extract of one hospital: a visit (encounter, diagnosis, dispense, lab) and
    an allergy record per patient; the files without rows hold their header only."""
    folder = extracts / hospital / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    served, updated = f"{day:%Y%m%d}", f"{day:%Y%m%d}100000"
    rows: dict[str, list[Any]] = {name: [] for name in FILE_NAMES}
    for serial in serials:
        who = {"HOSPCODE": hospital, "PID": f"P{serial}", "CID": national_id(serial)}
        visit = {**who, "SEQ": f"{served}-{serial}", "DATE_SERV": served, "D_UPDATE": updated}
        rows["PERSON"].append(
            {**who, "HN": f"HN{serial}", "BIRTH": "19800501", "D_UPDATE": updated}
        )
        rows["SERVICE"].append({**visit, "HN": f"HN{serial}", "TIME_SERV": "093000"})
        code = HIV if is_hiv_visit(serial, day) else "J069"
        rows["DIAGNOSIS_OPD"].append({**visit, "DIAGTYPE": "1", "DIAGCODE": code})
        rows["DRUG_OPD"].append({**visit, "DIDSTD": PARACETAMOL})
        rows["LABFU"].append({**visit, "LABTEST": "0531002", "LABRESULT": "98"})
        rows["DRUGALLERGY"].append(
            {**who, "DATERECORD": served, "DRUGALLERGY": PARACETAMOL, "D_UPDATE": updated}
        )
    for name, file_rows in rows.items():
        write_file(folder, name, file_rows)
    return folder


def run_daily_sync(
    settings: Settings,
    registry_dir: Path,
    extracts: Path,
    day: date,
    serials: tuple[int, ...],
    dbt_paths: list[str],
) -> list[dict[str, Any]]:
    """warehouse.pipeline.daily_run.run_daily_sync with the day's extracts written first and dbt
    narrowed; returns each hospital's batch summary (counts only)."""
    registry = load_registry(registry_dir)
    for hospital in registry.participating(day):
        write_extract(extracts, hospital.hospital_code, day, serials)
    run_id = f"stateful-{day.isoformat()}"
    summaries = [
        sync_hospital(code, day, run_id, registry_dir, settings)
        for code in prepare_run(day, registry_dir, settings)
    ]
    run_dbt([*DBT_SELECTION, *dbt_paths], settings)
    finish_run(run_id, day, settings)
    return summaries


def _stored_tables(conn: Any) -> list[tuple[str, str]]:
    """(table, hospital column) holding rows by patient and hospital: raw and marts (what the
    purge covers) and, on PostgreSQL, the published row tables dbt rebuilds from the marts."""
    columns: dict[str, set[str]] = {}
    for table, column in conn.execute(
        "SELECT c.table_schema || '.' || c.table_name, c.column_name"
        " FROM information_schema.columns AS c JOIN information_schema.tables AS t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = 'published' AND t.table_type = 'BASE TABLE'"
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    published = [
        (table, "hospital_code")
        for table, names in sorted(columns.items())
        if {"patient_key", "hospital_code"} <= names
    ]
    return purgeable_tables(conn) + published


def assert_nothing_stored_against(
    conn: Any, model: dict[int, ModelPatient], landing_dir: Path
) -> None:
    """After a sync, no table or landing file holds a (patient, hospital) pair the model (not
    the service) disallows: the purge removed the old ones and the loads added none."""
    networks = networks_of(conn)
    by_key = {key_of(serial): patient for serial, patient in model.items()}

    def allowed(key: str, hospital: str) -> bool:
        patient = by_key.get(key)
        return patient is not None and patient.allows(hospital, networks.get(hospital))

    for table, column in _stored_tables(conn):
        for key, hospital in conn.execute(
            f"SELECT DISTINCT patient_key, {column} FROM {table}"
        ).fetchall():
            assert allowed(key, hospital), table
    for path in landing_dir.glob("hospital=*/**/*.parquet"):
        hospital = path.relative_to(landing_dir).parts[0].removeprefix("hospital=")
        keys = pc.unique(pq.read_table(path, columns=["patient_key"]).column("patient_key"))
        for key in keys.to_pylist():
            assert allowed(key, hospital), path.name


def assert_day_loaded(
    conn: Any, model: dict[int, ModelPatient], day: date, hospitals: list[str]
) -> None:
    """The day's visits reached raw and the marts for exactly the pairs the model allows:
    a patient who consented since the last sync gets rows, one who withdrew gets none."""
    networks = networks_of(conn)
    expected = sorted(
        (key_of(serial), hospital)
        for serial, patient in model.items()
        for hospital in hospitals
        if patient.allows(hospital, networks.get(hospital))
    )
    for table in ("raw.encounter", "marts.fct_encounter"):
        loaded = conn.execute(
            f"SELECT DISTINCT patient_key, hospital_code FROM {table} WHERE extract_date = ?"
            " ORDER BY 1, 2",
            [day],
        ).fetchall()
        assert [tuple(row) for row in loaded] == expected, table
