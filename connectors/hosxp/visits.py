"""Patients, visits, admissions and the vital signs of a visit (HOSxP's core tables)."""

from __future__ import annotations

from typing import Final

from connectors.contract import VITAL_CODES
from connectors.hosxp.query import (
    ADMISSION,
    VISIT,
    VISIT_STAMP,
    Canonical,
    Query,
    day,
    in_window,
    moment,
    number,
    text,
)
from connectors.hosxp.row import SourceRow

# HOSxP patient.sex, as the 43-file SEX it is exported to.
SEXES: Final = {"1": "male", "2": "female"}


def _patient(row: SourceRow, values: Canonical) -> list[Canonical]:
    return [{**values, "sex": SEXES.get(values["sex"] or "", "unknown")}]


# A patient is read when their record changed in the window, or when one of their visits
# did (the warehouse then has the person of every visit it loads); a patient changed after
# the window waits for that later day.
PATIENT: Final = Query(
    entity="patient",
    table="patient",
    alias="p",
    key=("hn",),
    reads={
        "cid": text("p.cid"),
        "pid": text("p.hn"),
        "hn": text("p.hn"),
        "prename": text("p.pname"),
        "first_name": text("p.fname"),
        "last_name": text("p.lname"),
        "sex": text("p.sex"),
        "birth_date": day("p.birthday"),
        "recorded_at": moment("p.last_update"),
    },
    tables={"o": "ovst", "q": "ovst_seq"},
    where=f"""({in_window("p.last_update")})
        OR ((p.last_update IS NULL OR p.last_update < %(end)s) AND EXISTS (
            SELECT 1 FROM ovst o LEFT JOIN ovst_seq q ON q.vn = o.vn
            WHERE o.hn = p.hn AND {in_window(VISIT_STAMP)}))""",
    build=_patient,
)

OUTPATIENT_VISITS: Final = Query(
    entity="encounter",
    table="ovst",
    alias="o",
    key=("vn",),
    parent=VISIT,
    reads={
        "admission_id": text("s.an"),
        "start_at": moment("o.vstdate", "o.vsttime"),
        "location": text("o.main_dep"),
        "chief_complaint": text("c.cc"),
        "discharge_status": text("o.ovstost"),
    },
    tables={"s": "vn_stat", "c": "opdscreen"},
    joins="LEFT JOIN vn_stat s ON s.vn = o.vn LEFT JOIN opdscreen c ON c.vn = o.vn",
)

ADMISSIONS: Final = Query(
    entity="encounter",
    table="ipt",
    alias="i",
    key=("an",),
    parent=ADMISSION,
    reads={
        "admission_id": text("i.an"),
        "start_at": moment("i.regdate", "i.regtime"),
        "end_at": moment("i.dchdate", "i.dchtime"),
        "location": text("i.ward"),
        "discharge_status": text("i.dchstts"),
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


def _vital_signs(row: SourceRow, values: Canonical) -> list[Canonical]:
    reference = {name: value for name, value in values.items() if name not in VITAL_CODES}
    return [
        {
            **reference,
            "record_key": row.record_key(code),
            "vital_code": code,
            "value": values[code],
            "unit": VITAL_CODES[code],
        }
        for code in SCREEN_VITALS.values()
        if values[code] is not None  # not measured at this visit: no row
    ]


VITAL_SIGNS: Final = Query(
    entity="vital_sign",
    table="opdscreen",
    alias="c",
    key=("vn",),
    parent=VISIT,
    reads={code: number(f"c.{column}") for column, code in SCREEN_VITALS.items()},
    build=_vital_signs,
    key_suffix=True,
)
