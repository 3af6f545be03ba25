"""A tiny warehouse for dbt tests: raw, consent and ops tables with a few hand-made rows.

The tables are production's (warehouse.storage.tables: every contract column except `cid`,
kept in raw.patient only, and `invalid_fields`, plus patient_key, row_hash and received_at),
so dbt tests run on the schema the pipeline loads. Three hospitals (two in NET01, one per-visit
hospital in NET02), four patients:

- P_ALL      sender ALL, sensitive not allowed; has an HIV encounter (principal B24) at H1, a
             visible visit with sertraline and VDRL (sensitive by class) and a visit whose
             comorbidity F200 (not principal) makes it sensitive whole
- P_NETWORK  sender LIST = network NET01, sensitive allowed; also has data at H3 (NET02)
- P_WITHDRAWN  withdrawn
- P_HOSPITAL sender LIST = hospital H3 only, sensitive not allowed; also has data at H1
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import duckdb

from warehouse.storage.schema import TABLES_DDL

H1, H2, H3 = "10001", "10002", "10003"
DAY1 = dt.date(2025, 1, 10)
DAY2 = dt.date(2025, 1, 11)


def bangkok_now() -> dt.datetime:
    """Consent timestamps are naive Asia/Bangkok wall-clock time."""
    return dt.datetime.now(ZoneInfo("Asia/Bangkok")).replace(tzinfo=None)


def _key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


P_ALL = _key("P_ALL")
P_NETWORK = _key("P_NETWORK")
P_WITHDRAWN = _key("P_WITHDRAWN")
P_HOSPITAL = _key("P_HOSPITAL")


class Executor(Protocol):
    """What the builders need: DuckDB connections qualify, PostgreSQL ones via _PgExecutor."""

    def execute(self, sql: str, params: Any = ...) -> Any: ...


class _PgExecutor:
    def __init__(self, conn: Any) -> None:
        self._cursor = conn.cursor()

    def execute(self, sql: str, params: Any = None) -> Any:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return self._cursor


def create_tables(conn: Executor) -> None:
    """The production raw, consent and ops tables (warehouse.storage.schema's definition)."""
    for statement in TABLES_DDL:
        conn.execute(statement)


def insert_rows(conn: Executor, table: str, rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        names = ", ".join(f'"{name}"' for name in row)
        marks = ", ".join("?" for _ in row)
        conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))


def write_consent(conn: Executor) -> None:
    insert_rows(
        conn,
        "consent.hospital",
        [
            {
                "hospital_code": H1,
                "hospital_name": "โรงพยาบาลหนึ่ง",
                "network_code": "NET01",
                "network_name": "เครือข่ายหนึ่ง",
                "participating_since": dt.date(2024, 1, 1),
                "per_visit_consent": False,
            },
            {
                "hospital_code": H2,
                "hospital_name": "โรงพยาบาลสอง",
                "network_code": "NET01",
                "network_name": "เครือข่ายหนึ่ง",
                "participating_since": dt.date(2024, 1, 1),
                "per_visit_consent": False,
            },
            {
                "hospital_code": H3,
                "hospital_name": "โรงพยาบาลสาม",
                "network_code": "NET02",
                "network_name": "เครือข่ายสอง",
                "participating_since": dt.date(2024, 6, 1),
                "per_visit_consent": True,
            },
        ],
    )
    registered = {"registered_on": dt.date(2024, 12, 1), "changed_at": dt.datetime(2024, 12, 1)}
    insert_rows(
        conn,
        "consent.patient_consent",
        [
            {
                "patient_key": P_ALL,
                "status": "active",
                "sender_scope": "ALL",
                "sensitive_allowed": False,
                **registered,
            },
            {
                "patient_key": P_NETWORK,
                "status": "active",
                "sender_scope": "LIST",
                "sensitive_allowed": True,
                **registered,
            },
            {
                "patient_key": P_WITHDRAWN,
                "status": "withdrawn",
                "sender_scope": "ALL",
                "sensitive_allowed": True,
                **registered,
            },
            {
                "patient_key": P_HOSPITAL,
                "status": "active",
                "sender_scope": "LIST",
                "sensitive_allowed": False,
                **registered,
            },
        ],
    )
    insert_rows(
        conn,
        "consent.patient_sender",
        [
            {"patient_key": P_NETWORK, "kind": "network", "code": "NET01"},
            {"patient_key": P_HOSPITAL, "kind": "hospital", "code": H3},
        ],
    )


@dataclass
class RawRows:
    """Accumulates raw rows per entity, filling the lineage columns."""

    extract_date: dt.date = DAY1
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, entity: str, hospital: str, patient: str, record_key: str, **values: Any) -> None:
        line = self._lines.get((hospital, entity), 1) + 1
        self._lines[(hospital, entity)] = line
        ed = self.extract_date
        row: dict[str, Any] = {
            "hospital_code": hospital,
            "source_file": f"{hospital}/{ed.isoformat()}/{entity.upper()}.txt",
            "source_line": line,
            "extract_date": ed,
            "batch_id": f"{hospital}-{ed:%Y%m%d}",
            "record_key": record_key,
            "recorded_at": dt.datetime.combine(ed, dt.time(9, 0)),
            "pid": f"PID-{patient[:6]}",
            "patient_key": patient,
            "row_hash": hashlib.md5(f"{hospital}|{record_key}|{values}".encode()).hexdigest(),
            "received_at": dt.datetime.combine(ed + dt.timedelta(days=1), dt.time(2, 0)),
        }
        row.update(values)
        self.rows.setdefault(entity, []).append(row)

    def visit(self, hospital: str, patient: str, seq: str, principal_icd10: str) -> None:
        """A whole OPD visit: encounter, principal diagnosis and one row of every category."""
        enc = {"encounter_id": seq, "encounter_class": "OPD", "service_date": self.extract_date}
        self.add(
            "encounter",
            hospital,
            patient,
            f"{seq}",
            **enc,
            start_at=dt.datetime.combine(self.extract_date, dt.time(8, 30)),
            location="OPD",
            chief_complaint="ไข้ ไอ",
            discharge_status="1",
        )
        self.add(
            "diagnosis",
            hospital,
            patient,
            f"{seq}|1|{principal_icd10}",
            **enc,
            diagnosis_type="1",
            icd10_code=principal_icd10,
            provider_id="D001",
        )
        self.add(
            "medication_dispense",
            hospital,
            patient,
            f"{seq}|101011121002817000000120",
            **enc,
            drug_code="101011121002817000000120",
            drug_name="Paracetamol 500 mg",
            quantity=20.0,
            unit="tablet",
            provider_id="D001",
        )
        self.add(
            "procedure",
            hospital,
            patient,
            f"{seq}|8901",
            **enc,
            procedure_code="8901",
            provider_id="D001",
        )
        self.add(
            "immunization",
            hospital,
            patient,
            f"{seq}|815",
            **enc,
            vaccine_code="815",
            vaccine_place=hospital,
            provider_id="N001",
        )
        self.add(
            "vital_sign",
            hospital,
            patient,
            f"{seq}|body_weight",
            **enc,
            vital_code="body_weight",
            value=64.0,
            unit="kg",
        )
        self.add(
            "vital_sign",
            hospital,
            patient,
            f"{seq}|body_height",
            **enc,
            vital_code="body_height",
            value=160.0,
            unit="cm",
        )
        self.add(
            "lab_result",
            hospital,
            patient,
            f"{seq}|0531002",
            **enc,
            lab_code="0531002",
            result_value=98.0,
            result_text="98",
        )
        self.add(
            "imaging_report",
            hospital,
            patient,
            f"{seq}|CXR1",
            **enc,
            study_id="CXR1",
            modality="CR",
            body_site="chest",
            study_code="8744",
            conclusion="No active lesion",
            provider_id="R001",
        )

    def extra(self, entity: str, hospital: str, patient: str, seq: str, **values: Any) -> None:
        """One more row of an existing OPD visit (a second diagnosis, dispense, lab...)."""
        key = "|".join(str(v) for v in values.values())
        enc = {"encounter_id": seq, "encounter_class": "OPD", "service_date": self.extract_date}
        self.add(entity, hospital, patient, f"{seq}|{key}", **enc, **values)

    def person(self, hospital: str, patient: str, first_name: str) -> None:
        self.add(
            "patient",
            hospital,
            patient,
            f"person|{patient[:6]}",
            cid=f"1{patient[:12]}",
            hn=f"HN{patient[:5]}",
            prename="นาย",
            first_name=first_name,
            last_name="ทดสอบ",
            sex="male",
            birth_date=dt.date(1980, 5, 1),
        )

    def allergy(self, hospital: str, patient: str, drug_code: str) -> None:
        self.add(
            "allergy",
            hospital,
            patient,
            f"allergy|{patient[:6]}|{drug_code}",
            recorded_date=self.extract_date,
            drug_code=drug_code,
            drug_name="drug",
            allergy_type="1",
            severity="2",
            symptom="rash",
            informant="1",
        )

    def write(self, conn: Executor) -> None:
        for entity, rows in self.rows.items():
            insert_rows(conn, f"raw.{entity}", rows)
        pairs = {
            (row["hospital_code"], row["extract_date"])
            for rows in self.rows.values()
            for row in rows
        }
        insert_rows(
            conn,
            "ops.transform_pending",
            [{"hospital_code": h, "extract_date": d} for h, d in sorted(pairs)],
        )


EFAVIRENZ = "102121121240387003141990"
PARACETAMOL = "101011121002817000000120"
SERTRALINE = "102454121311658004084551"
VDRL = "0622101"


def day_one() -> RawRows:
    """Day-1 extracts of the three hospitals."""
    raw = RawRows(extract_date=DAY1)
    for patient, name in (
        (P_ALL, "สมชาย"),
        (P_NETWORK, "สมหญิง"),
        (P_WITHDRAWN, "สมศักดิ์"),
        (P_HOSPITAL, "สมปอง"),
    ):
        raw.person(H1, patient, name)
    raw.person(H3, P_NETWORK, "สมหญิง")
    raw.person(H3, P_HOSPITAL, "สมปอง")
    raw.person(H2, P_ALL, "สมชาย")
    # P_ALL: an HIV visit (principal B24) and an ordinary cold at H1, a hypertension visit at H2.
    raw.visit(H1, P_ALL, "S-HIV", "B24")
    raw.visit(H1, P_ALL, "S-COLD", "J00")
    raw.visit(H2, P_ALL, "S-HT", "I10")
    raw.allergy(H1, P_ALL, EFAVIRENZ)
    # Finding 4 of issue 9: sertraline and VDRL are sensitive by class in a visible visit;
    # S-COMORB's principal is I10 but its comorbidity F200 hides the whole encounter.
    raw.visit(H1, P_ALL, "S-URI", "J069")
    raw.extra("medication_dispense", H1, P_ALL, "S-URI", drug_code=SERTRALINE,
              drug_name="Sertraline 50 mg", quantity=30.0, unit="tablet", provider_id="D001")
    raw.extra("lab_result", H1, P_ALL, "S-URI", lab_code=VDRL, result_value=1.0,
              result_text="reactive")
    raw.visit(H1, P_ALL, "S-COMORB", "I10")
    raw.extra("diagnosis", H1, P_ALL, "S-COMORB", diagnosis_type="4", icd10_code="F200",
              provider_id="D001")
    raw.allergy(H1, P_ALL, PARACETAMOL)
    # P_NETWORK: a depression visit (sensitive, allowed) at H1, a visit at H2 and one at H3.
    raw.visit(H1, P_NETWORK, "S-DEP", "F329")
    raw.visit(H2, P_NETWORK, "S-N2", "E119")
    raw.visit(H3, P_NETWORK, "S-N3", "K297")
    # P_WITHDRAWN everywhere.
    raw.visit(H1, P_WITHDRAWN, "S-W1", "J00")
    raw.visit(H3, P_WITHDRAWN, "S-W3", "I10")
    raw.allergy(H1, P_WITHDRAWN, PARACETAMOL)
    # P_HOSPITAL: chose H3 only; H1 also has a visit.
    raw.visit(H3, P_HOSPITAL, "S-H3", "J069")
    raw.visit(H1, P_HOSPITAL, "S-H1", "M545")
    return raw


def build_warehouse(path: str) -> None:
    conn = duckdb.connect(path)
    try:
        create_tables(conn)
        write_consent(conn)
        day_one().write(conn)
    finally:
        conn.close()


def build_postgres(dsn: str) -> None:
    """The same fixture in a PostgreSQL database (raw/consent/ops schemas must not exist)."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        executor = _PgExecutor(conn)
        create_tables(executor)
        write_consent(executor)
        day_one().write(executor)
        conn.commit()
    finally:
        conn.close()
