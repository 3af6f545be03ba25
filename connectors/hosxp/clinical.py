"""Diagnoses, dispensing and procedures, of visits and of admissions."""

from __future__ import annotations

from typing import Final

from connectors.hosxp.query import (
    ADMISSION,
    ADMISSION_STAMP,
    VISIT,
    VISIT_STAMP,
    Query,
    day,
    in_window,
    moment,
    number,
    text,
)

VISIT_DIAGNOSES: Final = Query(
    entity="diagnosis",
    table="ovstdiag",
    alias="d",
    key=("ovst_diag_id",),
    parent=VISIT,
    reads={
        "diagnosis_type": text("d.diagtype"),
        "icd10_code": text("d.icd10"),
        "provider_id": text("d.doctor"),
    },
)

ADMISSION_DIAGNOSES: Final = Query(
    entity="diagnosis",
    table="iptdiag",
    alias="d",
    key=("ipt_diag_id",),
    parent=ADMISSION,
    reads=VISIT_DIAGNOSES.reads,
)

# opitemrece holds every charged item; the inner join to drugitems keeps the drugs (other
# items live in nondrugitems). An item of an admission carries its AN (its stamp then is
# the admission's), an item of a visit its VN.
_AN: Final = "NULLIF(r.an, '')"

DISPENSING: Final = Query(
    entity="medication_dispense",
    table="opitemrece",
    alias="r",
    key=("hos_guid",),
    reads={
        "cid": text("p.cid"),
        "pid": text("r.hn"),
        "encounter_id": text(f"COALESCE({_AN}, r.vn)"),
        "encounter_class": text(f"IF({_AN} IS NULL, 'OPD', 'IPD')"),
        "service_date": day("r.rxdate"),
        "recorded_at": moment(f"IF({_AN} IS NULL, q.update_datetime, i.update_datetime)"),
        "drug_code": text("g.did"),
        "drug_name": text("g.name"),
        "quantity": number("r.qty"),
        "unit": text("g.units"),
        "provider_id": text("r.doctor"),
    },
    tables={"g": "drugitems", "p": "patient", "o": "ovst", "q": "ovst_seq", "i": "ipt"},
    joins=f"""JOIN drugitems g ON g.icode = r.icode JOIN patient p ON p.hn = r.hn
        LEFT JOIN ovst o ON o.vn = r.vn LEFT JOIN ovst_seq q ON q.vn = r.vn
        LEFT JOIN ipt i ON i.an = {_AN}""",
    where=in_window(f"IF(i.an IS NULL, {VISIT_STAMP}, {ADMISSION_STAMP})"),
)

_PROCEDURE: Final = {"procedure_code": text("t.icd9"), "provider_id": text("t.doctor")}

EMERGENCY_PROCEDURES: Final = Query(
    entity="procedure",
    table="er_regist_oper",
    alias="e",
    key=("er_regist_oper_id",),
    parent=VISIT,
    reads={"procedure_code": text("c.icd9cm"), "provider_id": text("e.doctor")},
    tables={"c": "er_oper_code"},
    joins="JOIN er_oper_code c ON c.er_oper_code = e.er_oper_code",
)

VISIT_OPERATIONS: Final = Query(
    entity="procedure",
    table="doctor_operation",
    alias="t",
    key=("doctor_operation_id",),
    parent=VISIT,
    reads=_PROCEDURE,
)

ADMISSION_OPERATIONS: Final = Query(
    entity="procedure",
    table="iptoprt",
    alias="t",
    key=("iptoprt_id",),
    parent=ADMISSION,
    reads=_PROCEDURE,
)
