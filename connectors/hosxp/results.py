"""Lab results, immunizations, allergies and imaging reports."""

from __future__ import annotations

from typing import Final

from connectors.hosxp.query import (
    VISIT,
    VISIT_STAMP,
    Canonical,
    Query,
    change_stamp,
    day,
    in_window,
    moment,
    text,
)
from connectors.hosxp.row import SourceRow


def _lab_result(row: SourceRow, values: Canonical) -> list[Canonical]:
    result = values["result_text"]
    try:
        value = float(result) if result is not None else None
    except ValueError:
        value = None  # 'Positive', '<0.5': kept as text, not invalid (docs/contract.md)
    return [{**values, "result_value": value, "result_text": result if value is None else None}]


# A result is often reported days after the visit: its report date brings it into the
# window too, so a late result is read on the day it is reported.
LAB_STAMP: Final = f"GREATEST({VISIT_STAMP}, COALESCE(TIMESTAMP(h.report_date), {VISIT_STAMP}))"

LAB_RESULTS: Final = Query(
    entity="lab_result",
    table="lab_order",
    alias="l",
    key=("lab_order_number", "lab_items_code"),
    parent=VISIT,
    reads={
        "service_date": day("h.order_date"),
        "lab_code": text("t.provis_labcode"),
        "result_text": text("l.lab_order_result"),
    },
    tables={"h": "lab_head", "t": "lab_items"},
    joins="JOIN lab_head h ON h.lab_order_number = l.lab_order_number "
    "JOIN lab_items t ON t.lab_items_code = l.lab_items_code",
    via="h",  # the order's header holds the VN
    where=in_window(LAB_STAMP),
    build=_lab_result,
)

# person_vaccine is HOSxP's list of vaccines; export_vaccine_code is the MOPH code the
# 43-file EPI export writes.
IMMUNIZATIONS: Final = Query(
    entity="immunization",
    table="ovst_vaccine",
    alias="v",
    key=("ovst_vaccine_id",),
    parent=VISIT,
    reads={
        "vaccine_code": text("k.export_vaccine_code"),
        "vaccine_place": text("v.hospcode"),
        "provider_id": text("v.doctor_code"),
    },
    tables={"k": "person_vaccine"},
    joins="JOIN person_vaccine k ON k.person_vaccine_id = v.person_vaccine_id",
)

# Allergies belong to the patient, not to a visit: their own stamp decides.
ALLERGIES: Final = Query(
    entity="allergy",
    table="opd_allergy",
    alias="a",
    key=("hn", "agent"),
    reads={
        "cid": text("p.cid"),
        "pid": text("a.hn"),
        "recorded_at": moment("a.update_datetime"),
        "recorded_date": day("a.report_date"),
        "drug_code": text("a.agent_code24"),
        "drug_name": text("a.agent"),
        "allergy_type": text("a.relation_level"),
        "severity": text("a.seriousness_id"),
        "symptom": text("a.symptom"),
        "informant": text("a.informant"),
    },
    tables={"p": "patient"},
    joins="JOIN patient p ON p.hn = a.hn",
    where=in_window(change_stamp("a.update_datetime", "a.report_date")),
)

# Not every HOSxP site runs the x-ray module: imaging is read where xray_report exists.
IMAGING: Final = Query(
    entity="imaging_report",
    table="xray_report",
    alias="x",
    key=("xn",),
    parent=VISIT,
    reads={
        "service_date": day("x.request_date"),
        "study_id": text("x.xn"),
        "modality": text("t.modality"),
        "body_site": text("t.body_site"),
        "study_code": text("x.xray_items_code"),
        "conclusion": text("x.report_text"),
        "provider_id": text("x.doctor_read"),
    },
    tables={"t": "xray_items"},
    joins="JOIN xray_items t ON t.xray_items_code = x.xray_items_code",
    optional=True,
)
