"""A patient's record: the nine categories from the published views, split by source hospital.

Every query runs inside the request's transaction, after `gate.set_physician`. On DuckDB the
per-visit gate is the SQL compiled from the dbt macro, evaluated once per request for each
kind of row the patient's consent shows (`_visible_kinds`), and that one consent read also
decides whether the patient is shown at all (`_known_patient`); on PostgreSQL RLS applies
the gate and published.patient the patient's visibility.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from warehouse.storage.connection import WarehouseConnection

BANGKOK = ZoneInfo("Asia/Bangkok")
# Stamped by the warehouse with the machine's clock (naive local time); every other
# timestamp of the contract is naive Bangkok wall-clock time at the hospital.
MACHINE_CLOCK_COLUMNS = frozenset({"received_at"})


def with_offset(column: str, value: Any) -> Any:
    """ISO 8601 with an explicit offset, so no reader has to guess the zone."""
    if not isinstance(value, datetime) or value.tzinfo is not None:
        return value
    return value.astimezone() if column in MACHINE_CLOCK_COLUMNS else value.replace(tzinfo=BANGKOK)


# (category key in the response, published view). Category 7 of the FAQ (labs and imaging
# summaries) is two views; category 9 (sensitive) is the tagged rows of all the others.
CATEGORY_VIEWS: tuple[tuple[str, str], ...] = (
    ("allergies", "allergy"),
    ("diagnoses", "diagnosis"),
    ("medication_dispenses", "medication_dispense"),
    ("immunizations", "immunization"),
    ("procedures", "procedure"),
    ("vital_signs", "vital_sign"),
    ("lab_results", "lab_result"),
    ("imaging_reports", "imaging_report"),
    ("encounters", "encounter"),
)
SENSITIVE = "sensitive"
CATEGORIES = (*(key for key, _ in CATEGORY_VIEWS), SENSITIVE)

# Internal lineage the physician does not need; provenance kept: hospital, record_key,
# recorded_at, received_at (and the hospital's data-as-of on the hospital section).
HIDDEN_COLUMNS = frozenset(
    {
        "patient_key",
        "pid",
        "batch_id",
        "source_file",
        "source_line",
        "extract_date",
        "hospital_name",
        "per_visit_required",
        "hospital_code",
        "gate_open",
    }
)

DISCLAIMER_TH = (
    "ข้อมูลที่แสดงอาจไม่ครบถ้วน ขึ้นอยู่กับความยินยอมของผู้ป่วยและการส่งข้อมูลของแต่ละโรงพยาบาล "
    "โปรดใช้วิจารณญาณทางคลินิกประกอบ"
)
DISCLAIMER_EN = (
    "The data shown may be incomplete: it depends on the patient's consent and on what each "
    "hospital has sent. Use clinical judgement."
)

PATIENT_COLUMNS = ("patient_key", "prename", "first_name", "last_name", "sex", "birth_date")


@dataclass
class HospitalSection:
    hospital_code: str
    hospital_name: str | None
    per_visit_required: bool
    data_as_of: datetime | None
    last_extract_date: date | None
    withheld: bool = False
    # False when the per-visit gate refused this hospital (shown only under break-glass).
    gate_open: bool = True
    consent_status: str = "consented"
    categories: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {key: [] for key in CATEGORIES}
    )


@dataclass
class PatientRecordData:
    patient: dict[str, Any]
    hospitals: list[HospitalSection]

    @property
    def returned_categories(self) -> list[str]:
        return sorted(
            {
                k
                for h in self.hospitals
                if not h.withheld
                for k, rows in h.categories.items()
                if rows
            }
        )

    @property
    def returned_hospitals(self) -> list[str]:
        return sorted(h.hospital_code for h in self.hospitals if not h.withheld)


def visible_patient(conn: WarehouseConnection, patient_key: str) -> dict[str, Any] | None:
    """The patient's header if their data may be shown at all (published.patient)."""
    row = conn.execute(
        f"SELECT {', '.join(PATIENT_COLUMNS)} FROM published.patient WHERE patient_key = ?",
        [patient_key],
    ).fetchone()
    return dict(zip(PATIENT_COLUMNS, row, strict=True)) if row else None


def _freshness(conn: WarehouseConnection) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT hospital_code, hospital_name, per_visit_consent, data_as_of, last_extract_date "
        "FROM published.hospital_freshness"
    ).fetchall()
    return {r[0]: r for r in rows}


def _section(
    sections: dict[str, HospitalSection],
    freshness: dict[str, tuple[Any, ...]],
    code: str,
    name: str | None = None,
) -> HospitalSection:
    section = sections.get(code)
    if section is None:
        fresh = freshness.get(code, (code, name, False, None, None))
        section = sections[code] = HospitalSection(
            hospital_code=code,
            hospital_name=fresh[1],
            per_visit_required=bool(fresh[2]),
            data_as_of=with_offset("received_at", fresh[3]),
            last_extract_date=fresh[4],
        )
    return section


def _add_row(section: HospitalSection, category: str, row: dict[str, Any]) -> None:
    shown = {k: with_offset(k, v) for k, v in row.items() if k not in HIDDEN_COLUMNS}
    section.categories[category].append(shown)
    if row.get("is_sensitive"):
        section.categories[SENSITIVE].append(
            {
                "category": category,
                "record_key": row["record_key"],
                "sensitivity_category": row.get("sensitivity_category"),
            }
        )


def read_record(
    conn: WarehouseConnection,
    gate_sql: str | None,
    patient_key: str,
    *,
    break_glass: bool = False,
    fact_columns: dict[str, list[str]] | None = None,
) -> PatientRecordData | None:
    """The record as the current physician may see it. `gate_sql` is the compiled per-visit
    gate on DuckDB; None on PostgreSQL, where RLS applies it (see `_read_postgres`).
    `fact_columns`: DuckDB's `published_fact_columns`, if the caller keeps them."""
    sections: dict[str, HospitalSection] = {}
    if gate_sql is None:
        patient = visible_patient(conn, patient_key)
        if patient is None:
            return None
        freshness = _freshness(conn)
        _read_postgres(conn, patient_key, freshness, sections, break_glass=break_glass)
    else:
        visible = _visible_kinds(conn, gate_sql, patient_key)
        patient = _known_patient(conn, patient_key, {code for code, _ in visible})
        if patient is None:
            return None
        freshness = _freshness(conn)
        columns = fact_columns or published_fact_columns(conn)
        _read_duckdb(
            conn, visible, columns, patient_key, freshness, sections, break_glass=break_glass
        )
    for section in sections.values():
        if section.withheld:
            section.categories = {key: [] for key in CATEGORIES}
    return PatientRecordData(patient, sorted(sections.values(), key=lambda s: s.hospital_code))


# DuckDB: which kinds of a patient's rows, (hospital_code, is_sensitive), the live consent
# shows. The published fact views are each fact equi-joined with it (macros/publish.sql).
VISIBLE_ROWS = "intermediate.int_consent__visible_rows"


def _visible_kinds(
    conn: WarehouseConnection, gate_sql: str, patient_key: str
) -> dict[tuple[str, bool], bool]:
    """(hospital_code, is_sensitive) -> gate open, for each kind of the patient's rows their
    live consent shows: the one consent read of a DuckDB record (the header and the nine
    categories all follow from it). Empty for a patient without active consent."""
    return {
        (code, is_sensitive): bool(gate_open)
        for code, is_sensitive, gate_open in conn.execute(
            f"SELECT gated.hospital_code, gated.is_sensitive, ({gate_sql}) AS gate_open "
            f"FROM {VISIBLE_ROWS} AS gated WHERE gated.patient_key = ?",
            [patient_key],
        ).fetchall()
    }


def _known_patient(
    conn: WarehouseConnection, patient_key: str, allowed_hospitals: set[str]
) -> dict[str, Any] | None:
    """DuckDB: the patient's header as published.patient shows it, from the consent already
    read: published.patient is dim_patient joined with the patient's hospitals
    (bridge_patient_hospital) that their consent allows (macros/publish.sql); here the same
    join, by two index lookups on patient_key (macros/api_indexes.sql). Reading the view
    planned and ran the consent join again: 10 of the record's 44 ms of CPU at 100,000
    patients (bench/record_stages.py), against 1 ms for the two lookups;
    tests/dbt/test_consent_join_checksum.py compares both."""
    if not allowed_hospitals:
        return None  # no active consent: nothing to look up
    known_at = conn.execute(
        "SELECT hospital_code FROM marts.bridge_patient_hospital WHERE patient_key = ?",
        [patient_key],
    ).fetchall()
    if not allowed_hospitals.intersection(code for (code,) in known_at):
        return None
    row = conn.execute(
        f"SELECT {', '.join(PATIENT_COLUMNS)} FROM marts.dim_patient WHERE patient_key = ?",
        [patient_key],
    ).fetchone()
    return dict(zip(PATIENT_COLUMNS, row, strict=True)) if row else None


def _read_duckdb(
    conn: WarehouseConnection,
    visible: dict[tuple[str, bool], bool],
    columns: dict[str, list[str]],
    patient_key: str,
    freshness: dict[str, tuple[Any, ...]],
    sections: dict[str, HospitalSection],
    *,
    break_glass: bool,
) -> None:
    """The published views' rows, with consent evaluated once per request instead of once
    per category: `visible` lists the kinds of rows the patient's live consent shows, with
    the per-visit gate per kind (`_visible_kinds`); each fact is read by patient_key alone
    (an index lookup: DuckDB uses an index only for a lone equality filter) and a row is
    kept when its kind is listed, the equi-join the published view makes. Reading the nine
    views planned and ran the consent join nine times per record (BENCHMARKS.md). A row
    whose gate is closed withholds its hospital (or is shown under break-glass)."""
    for category, view in CATEGORY_VIEWS:
        names = columns[view]
        rows = conn.execute(
            f"SELECT {', '.join(names)} FROM marts.fct_{view} WHERE patient_key = ?",
            [patient_key],
        ).fetchall()
        for values in _newest_first(rows, names):
            row = dict(zip(names, values, strict=True))
            gate_open = visible.get((row["hospital_code"], row["is_sensitive"]))
            if gate_open is None:
                continue  # not a kind of row the patient's consent shows
            section = _section(sections, freshness, row["hospital_code"])
            if not gate_open:
                section.gate_open = False
                if not break_glass:
                    section.withheld = True
                    continue
            _add_row(section, category, row)


def _newest_first(rows: list[tuple[Any, ...]], names: list[str]) -> list[tuple[Any, ...]]:
    """`ORDER BY recorded_at DESC, record_key` as DuckDB sorts (nulls last), in Python: a
    patient's few rows sort here in microseconds, and the sort in SQL cost about 0.3 ms of
    CPU per category at 100,000 patients."""
    recorded, key = names.index("recorded_at"), names.index("record_key")
    by_key = sorted(rows, key=lambda row: row[key])
    # Stable, also in reverse: rows recorded at the same moment stay in record_key order.
    return sorted(
        by_key, key=lambda row: (row[recorded] is not None, row[recorded] or 0), reverse=True
    )


def published_fact_columns(conn: WarehouseConnection) -> dict[str, list[str]]:
    """DuckDB: per published category view, its columns that come from its fact
    (published.<view> over marts.fct_<view>), in the view's order, so the record shows what
    the view shows; the others (hospital_name, per_visit_required) are the hospital
    section's. Only a dbt build changes them (ApiContext keeps them while the file is open)."""
    rows = conn.execute(
        "SELECT shown.table_name, list(shown.column_name ORDER BY shown.column_index) "
        "FROM duckdb_columns() AS shown "
        "INNER JOIN duckdb_columns() AS fact "
        "ON fact.database_name = shown.database_name AND fact.schema_name = 'marts' "
        "AND fact.table_name = 'fct_' || shown.table_name "
        "AND fact.column_name = shown.column_name "
        "WHERE shown.database_name = current_database() AND shown.schema_name = 'published' "
        "GROUP BY shown.table_name"
    ).fetchall()
    return {str(view): [str(c) for c in names] for view, names in rows}


def _read_postgres(
    conn: WarehouseConnection,
    patient_key: str,
    freshness: dict[str, tuple[Any, ...]],
    sections: dict[str, HospitalSection],
    *,
    break_glass: bool,
) -> None:
    """RLS shows only rows the gate admits, so the hospitals holding data come from the
    definer function consent.patient_sources (codes and flags, no clinical data); a
    break-glass read first opens the closed ones through consent.open_break_glass."""
    opened: set[str] = set()
    if break_glass:
        rows = conn.execute("SELECT * FROM consent.open_break_glass(?)", [patient_key]).fetchall()
        opened = {r[0] for r in rows}
    sources = conn.execute(
        "SELECT hospital_code, gate_open FROM consent.patient_sources(?)", [patient_key]
    ).fetchall()
    for code, gate_open in sources:
        section = _section(sections, freshness, code)
        if code in opened:
            section.gate_open = False  # shown, but only because of break-glass
        elif not gate_open:
            section.gate_open = False
            section.withheld = True
    for category, view in CATEGORY_VIEWS:
        cursor = conn.execute(
            f"SELECT * FROM published.{view} WHERE patient_key = ? "
            "ORDER BY recorded_at DESC, record_key",
            [patient_key],
        )
        columns = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(columns, values, strict=True))
            section = _section(sections, freshness, row["hospital_code"], row.get("hospital_name"))
            if not section.withheld:  # RLS already hid gated rows; defence in depth
                _add_row(section, category, row)
