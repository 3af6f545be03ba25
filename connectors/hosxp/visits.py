"""Patients, visits, admissions and the vital signs of a visit (HOSxP's core tables)."""

from __future__ import annotations

from typing import Final

from connectors.contract import VITAL_CODES
from connectors.hosxp.query import (
    ADMISSION_STAMP,
    VISIT_JOINS,
    VISIT_STAMP,
    Canonical,
    Query,
    SourceRow,
    admission_ref,
    in_window,
    sex_of,
    visit_ref,
)

VISIT_COLUMNS: Final = (
    "o.vn AS vn, o.hn AS hn, p.cid AS cid, o.vstdate AS vstdate, q.update_datetime AS changed_at"
)
ADMISSION_COLUMNS: Final = (
    "i.an AS an, i.hn AS hn, p.cid AS cid, i.regdate AS regdate, i.update_datetime AS changed_at"
)


def _patient(row: SourceRow) -> list[Canonical]:
    return [
        {
            "record_key": row.record_key(),
            "recorded_at": row.moment("last_update"),
            "cid": row.text("cid"),
            "pid": row.text("hn"),
            "hn": row.text("hn"),
            "prename": row.text("pname"),
            "first_name": row.text("fname"),
            "last_name": row.text("lname"),
            "sex": sex_of(row.text("sex")),
            "birth_date": row.day("birthday"),
        }
    ]


# A patient is read when their record changed in the window, or when one of their visits
# did (the warehouse then has the person of every visit it loads); a patient changed after
# the window waits for that later day.
PATIENT: Final = Query(
    entity="patient",
    table="patient",
    key=("hn",),
    tables={"p": "patient", "o": "ovst", "q": "ovst_seq"},
    sql=f"""
        SELECT p.hn AS hn, p.cid AS cid, p.pname AS pname, p.fname AS fname,
               p.lname AS lname, p.sex AS sex, p.birthday AS birthday,
               p.last_update AS last_update
        FROM patient p
        WHERE ({in_window("p.last_update")})
           OR ((p.last_update IS NULL OR p.last_update < %(end)s) AND EXISTS (
                SELECT 1 FROM ovst o LEFT JOIN ovst_seq q ON q.vn = o.vn
                WHERE o.hn = p.hn AND {in_window(VISIT_STAMP)}))
        ORDER BY p.hn""",
    build=_patient,
    fields={
        "cid": "patient.cid",
        "hn": "patient.hn",
        "pid": "patient.hn",
        "prename": "patient.pname",
        "first_name": "patient.fname",
        "last_name": "patient.lname",
        "sex": "patient.sex",
        "birth_date": "patient.birthday",
        "recorded_at": "patient.last_update",
    },
)


def _visit(row: SourceRow) -> list[Canonical]:
    return [
        {
            **visit_ref(row),
            "record_key": row.record_key(),
            "admission_id": row.text("an"),
            "start_at": row.moment("vstdate", "vsttime"),
            "location": row.text("main_dep"),
            "chief_complaint": row.text("cc"),
            "discharge_status": row.text("ovstost"),
        }
    ]


VISIT_FIELDS: Final = {
    "cid": "patient.cid",
    "pid": "ovst.hn",
    "encounter_id": "ovst.vn",
    "service_date": "ovst.vstdate",
    "recorded_at": "ovst_seq.update_datetime",
}

VISIT: Final = Query(
    entity="encounter",
    table="ovst",
    key=("vn",),
    tables={"o": "ovst", "q": "ovst_seq", "p": "patient", "s": "vn_stat", "c": "opdscreen"},
    sql=f"""
        SELECT {VISIT_COLUMNS}, o.vsttime AS vsttime, o.main_dep AS main_dep,
               o.ovstost AS ovstost, s.an AS an, c.cc AS cc
        FROM ovst o LEFT JOIN ovst_seq q ON q.vn = o.vn JOIN patient p ON p.hn = o.hn
        LEFT JOIN vn_stat s ON s.vn = o.vn LEFT JOIN opdscreen c ON c.vn = o.vn
        WHERE {in_window(VISIT_STAMP)}
        ORDER BY o.vn""",
    build=_visit,
    fields={
        **VISIT_FIELDS,
        "start_at": "ovst.vsttime",
        "admission_id": "vn_stat.an",
        "location": "ovst.main_dep",
        "chief_complaint": "opdscreen.cc",
        "discharge_status": "ovst.ovstost",
    },
)


def _admission(row: SourceRow) -> list[Canonical]:
    return [
        {
            **admission_ref(row),
            "record_key": row.record_key(),
            "admission_id": row.text("an"),
            "start_at": row.moment("regdate", "regtime"),
            "end_at": row.moment("dchdate", "dchtime"),
            "location": row.text("ward"),
            "discharge_status": row.text("dchstts"),
        }
    ]


ADMISSION_FIELDS: Final = {
    "cid": "patient.cid",
    "pid": "ipt.hn",
    "encounter_id": "ipt.an",
    "service_date": "ipt.regdate",
    "recorded_at": "ipt.update_datetime",
}

ADMISSION: Final = Query(
    entity="encounter",
    table="ipt",
    key=("an",),
    tables={"i": "ipt", "p": "patient"},
    sql=f"""
        SELECT {ADMISSION_COLUMNS}, i.regtime AS regtime, i.dchdate AS dchdate,
               i.dchtime AS dchtime, i.ward AS ward, i.dchstts AS dchstts
        FROM ipt i JOIN patient p ON p.hn = i.hn
        WHERE {in_window(ADMISSION_STAMP)}
        ORDER BY i.an""",
    build=_admission,
    fields={
        **ADMISSION_FIELDS,
        "admission_id": "ipt.an",
        "start_at": "ipt.regtime",
        "end_at": "ipt.dchdate",
        "location": "ipt.ward",
        "discharge_status": "ipt.dchstts",
    },
)

# opdscreen column -> canonical vital code (HOSxP stores BMI itself; the 43-file does not).
SCREEN_VITALS: Final = {
    "temperature": "body_temperature",
    "bps": "systolic_bp",
    "bpd": "diastolic_bp",
    "pulse": "pulse_rate",
    "rr": "respiratory_rate",
    "bw": "body_weight",
    "height": "body_height",
    "bmi": "bmi",
    "waist": "waist_circumference",
    "fbs": "blood_glucose",
}


def _vital_signs(row: SourceRow) -> list[Canonical]:
    reference = visit_ref(row)
    signs = []
    for column, code in SCREEN_VITALS.items():
        value = row.number(column)
        if value is None:
            continue  # not measured at this visit: no row
        signs.append(
            {
                **reference,
                "record_key": row.record_key(code),
                "vital_code": code,
                "value": value,
                "unit": VITAL_CODES[code],
            }
        )
    return signs


VITAL_SIGNS: Final = Query(
    entity="vital_sign",
    table="opdscreen",
    key=("vn",),
    tables={"c": "opdscreen", "o": "ovst", "q": "ovst_seq", "p": "patient"},
    sql=f"""
        SELECT {VISIT_COLUMNS}, {", ".join(f"c.{column} AS {column}" for column in SCREEN_VITALS)}
        FROM opdscreen c {VISIT_JOINS.format(alias="c")}
        WHERE {in_window(VISIT_STAMP)}
        ORDER BY c.vn""",
    build=_vital_signs,
    fields=VISIT_FIELDS,
)
