"""Diagnoses, dispensing and procedures, of visits and of admissions."""

from __future__ import annotations

from typing import Final

from connectors.hosxp.query import (
    ADMISSION_JOINS,
    ADMISSION_STAMP,
    VISIT_JOINS,
    VISIT_STAMP,
    Canonical,
    Query,
    SourceRow,
    admission_ref,
    in_window,
    visit_ref,
)
from connectors.hosxp.visits import ADMISSION_COLUMNS, ADMISSION_FIELDS, VISIT_COLUMNS, VISIT_FIELDS


def _diagnosis(reference: Canonical, row: SourceRow) -> list[Canonical]:
    return [
        {
            **reference,
            "record_key": row.record_key(),
            "diagnosis_type": row.text("diagtype"),
            "icd10_code": row.text("icd10"),
            "provider_id": row.text("doctor"),
        }
    ]


VISIT_DIAGNOSES: Final = Query(
    entity="diagnosis",
    table="ovstdiag",
    key=("ovst_diag_id",),
    tables={"d": "ovstdiag", "o": "ovst", "q": "ovst_seq", "p": "patient"},
    sql=f"""
        SELECT d.ovst_diag_id AS ovst_diag_id, {VISIT_COLUMNS}, d.icd10 AS icd10,
               d.diagtype AS diagtype, d.doctor AS doctor
        FROM ovstdiag d {VISIT_JOINS.format(alias="d")}
        WHERE {in_window(VISIT_STAMP)}
        ORDER BY d.ovst_diag_id""",
    build=lambda row: _diagnosis(visit_ref(row), row),
    fields={
        **VISIT_FIELDS,
        "diagnosis_type": "ovstdiag.diagtype",
        "icd10_code": "ovstdiag.icd10",
        "provider_id": "ovstdiag.doctor",
    },
)

ADMISSION_DIAGNOSES: Final = Query(
    entity="diagnosis",
    table="iptdiag",
    key=("ipt_diag_id",),
    tables={"d": "iptdiag", "i": "ipt", "p": "patient"},
    sql=f"""
        SELECT d.ipt_diag_id AS ipt_diag_id, {ADMISSION_COLUMNS}, d.icd10 AS icd10,
               d.diagtype AS diagtype, d.doctor AS doctor
        FROM iptdiag d {ADMISSION_JOINS.format(alias="d")}
        WHERE {in_window(ADMISSION_STAMP)}
        ORDER BY d.ipt_diag_id""",
    build=lambda row: _diagnosis(admission_ref(row), row),
    fields={
        **ADMISSION_FIELDS,
        "diagnosis_type": "iptdiag.diagtype",
        "icd10_code": "iptdiag.icd10",
        "provider_id": "iptdiag.doctor",
    },
)


def _dispense(row: SourceRow) -> list[Canonical]:
    admitted = row.text("an") is not None
    reference = admission_ref(row) if admitted else visit_ref(row)
    return [
        {
            **reference,
            "service_date": row.day("rxdate"),
            "record_key": row.record_key(),
            "drug_code": row.text("did"),
            "drug_name": row.text("name"),
            "quantity": row.number("qty"),
            "unit": row.text("units"),
            "provider_id": row.text("doctor"),
        }
    ]


# opitemrece holds every charged item; the inner join to drugitems keeps the drugs (other
# items live in nondrugitems). An item of an admission carries its AN, of a visit its VN.
DISPENSING: Final = Query(
    entity="medication_dispense",
    table="opitemrece",
    key=("hos_guid",),
    tables={
        "r": "opitemrece",
        "g": "drugitems",
        "o": "ovst",
        "q": "ovst_seq",
        "i": "ipt",
        "p": "patient",
    },
    sql=f"""
        SELECT r.hos_guid AS hos_guid, r.hn AS hn, p.cid AS cid, r.vn AS vn, o.vstdate AS vstdate,
               NULLIF(r.an, '') AS an, i.regdate AS regdate,
               COALESCE(i.update_datetime, q.update_datetime) AS changed_at,
               r.rxdate AS rxdate, r.qty AS qty, r.doctor AS doctor,
               g.did AS did, g.name AS name, g.units AS units
        FROM opitemrece r JOIN drugitems g ON g.icode = r.icode JOIN patient p ON p.hn = r.hn
        LEFT JOIN ovst o ON o.vn = r.vn LEFT JOIN ovst_seq q ON q.vn = r.vn
        LEFT JOIN ipt i ON i.an = NULLIF(r.an, '')
        WHERE {in_window(f"IF(i.an IS NULL, {VISIT_STAMP}, {ADMISSION_STAMP})")}
        ORDER BY r.hos_guid""",
    build=_dispense,
    fields={
        "cid": "patient.cid",
        "pid": "opitemrece.hn",
        "encounter_id": "opitemrece.vn",
        "service_date": "opitemrece.rxdate",
        "drug_code": "drugitems.did",
        "drug_name": "drugitems.name",
        "quantity": "opitemrece.qty",
        "unit": "drugitems.units",
        "provider_id": "opitemrece.doctor",
    },
)


def _procedure(reference: Canonical, row: SourceRow) -> list[Canonical]:
    return [
        {
            **reference,
            "record_key": row.record_key(),
            "procedure_code": row.text("icd9"),
            "provider_id": row.text("doctor"),
        }
    ]


EMERGENCY_PROCEDURES: Final = Query(
    entity="procedure",
    table="er_regist_oper",
    key=("er_regist_oper_id",),
    tables={
        "e": "er_regist_oper",
        "c": "er_oper_code",
        "o": "ovst",
        "q": "ovst_seq",
        "p": "patient",
    },
    sql=f"""
        SELECT e.er_regist_oper_id AS er_regist_oper_id, {VISIT_COLUMNS},
               c.icd9cm AS icd9, e.doctor AS doctor
        FROM er_regist_oper e JOIN er_oper_code c ON c.er_oper_code = e.er_oper_code
        {VISIT_JOINS.format(alias="e")}
        WHERE {in_window(VISIT_STAMP)}
        ORDER BY e.er_regist_oper_id""",
    build=lambda row: _procedure(visit_ref(row), row),
    fields={
        **VISIT_FIELDS,
        "procedure_code": "er_oper_code.icd9cm",
        "provider_id": "er_regist_oper.doctor",
    },
)

VISIT_OPERATIONS: Final = Query(
    entity="procedure",
    table="doctor_operation",
    key=("doctor_operation_id",),
    tables={"d": "doctor_operation", "o": "ovst", "q": "ovst_seq", "p": "patient"},
    sql=f"""
        SELECT d.doctor_operation_id AS doctor_operation_id, {VISIT_COLUMNS},
               d.icd9 AS icd9, d.doctor AS doctor
        FROM doctor_operation d {VISIT_JOINS.format(alias="d")}
        WHERE {in_window(VISIT_STAMP)}
        ORDER BY d.doctor_operation_id""",
    build=lambda row: _procedure(visit_ref(row), row),
    fields={
        **VISIT_FIELDS,
        "procedure_code": "doctor_operation.icd9",
        "provider_id": "doctor_operation.doctor",
    },
)

ADMISSION_OPERATIONS: Final = Query(
    entity="procedure",
    table="iptoprt",
    key=("iptoprt_id",),
    tables={"t": "iptoprt", "i": "ipt", "p": "patient"},
    sql=f"""
        SELECT t.iptoprt_id AS iptoprt_id, {ADMISSION_COLUMNS}, t.icd9 AS icd9, t.doctor AS doctor
        FROM iptoprt t {ADMISSION_JOINS.format(alias="t")}
        WHERE {in_window(ADMISSION_STAMP)}
        ORDER BY t.iptoprt_id""",
    build=lambda row: _procedure(admission_ref(row), row),
    fields={**ADMISSION_FIELDS, "procedure_code": "iptoprt.icd9", "provider_id": "iptoprt.doctor"},
)
