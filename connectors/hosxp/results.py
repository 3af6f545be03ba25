"""Lab results, immunizations, allergies and imaging reports."""

from __future__ import annotations

from typing import Final

from connectors.hosxp.query import (
    VISIT_JOINS,
    VISIT_STAMP,
    Canonical,
    Query,
    SourceRow,
    in_window,
    visit_ref,
)
from connectors.hosxp.visits import VISIT_COLUMNS, VISIT_FIELDS


def _lab_result(row: SourceRow) -> list[Canonical]:
    text = row.text("lab_order_result")
    try:
        value = float(text) if text is not None else None
    except ValueError:
        value = None  # 'Positive', '<0.5': kept as text, not invalid (docs/contract.md)
    return [
        {
            **visit_ref(row),
            "service_date": row.day("order_date"),
            "record_key": row.record_key(),
            "lab_code": row.text("provis_labcode"),
            "result_value": value,
            "result_text": text if value is None else None,
        }
    ]


# A result is often reported days after the visit: its report date brings it into the
# window too, so a late result is read on the day it is reported.
LAB_STAMP: Final = f"GREATEST({VISIT_STAMP}, COALESCE(TIMESTAMP(h.report_date), {VISIT_STAMP}))"

LAB_RESULTS: Final = Query(
    entity="lab_result",
    table="lab_order",
    key=("lab_order_number", "lab_items_code"),
    tables={
        "l": "lab_order",
        "h": "lab_head",
        "t": "lab_items",
        "o": "ovst",
        "q": "ovst_seq",
        "p": "patient",
    },
    sql=f"""
        SELECT l.lab_order_number AS lab_order_number, l.lab_items_code AS lab_items_code,
               {VISIT_COLUMNS}, h.order_date AS order_date,
               l.lab_order_result AS lab_order_result, t.provis_labcode AS provis_labcode
        FROM lab_order l JOIN lab_head h ON h.lab_order_number = l.lab_order_number
        JOIN lab_items t ON t.lab_items_code = l.lab_items_code
        {VISIT_JOINS.format(alias="h")}
        WHERE {in_window(LAB_STAMP)}
        ORDER BY l.lab_order_number, l.lab_items_code""",
    build=_lab_result,
    fields={
        **VISIT_FIELDS,
        "service_date": "lab_head.order_date",
        "lab_code": "lab_items.provis_labcode",
        "result_value": "lab_order.lab_order_result",
        "result_text": "lab_order.lab_order_result",
    },
)


def _immunization(row: SourceRow) -> list[Canonical]:
    return [
        {
            **visit_ref(row),
            "record_key": row.record_key(),
            "vaccine_code": row.text("export_vaccine_code"),
            "vaccine_place": row.text("vaccine_place"),
            "provider_id": row.text("doctor_code"),
        }
    ]


# person_vaccine is HOSxP's list of vaccines; export_vaccine_code is the MOPH code the
# 43-file EPI export writes. A vaccine given at a visit is given at this hospital.
IMMUNIZATIONS: Final = Query(
    entity="immunization",
    table="ovst_vaccine",
    key=("ovst_vaccine_id",),
    tables={
        "v": "ovst_vaccine",
        "k": "person_vaccine",
        "o": "ovst",
        "q": "ovst_seq",
        "p": "patient",
    },
    sql=f"""
        SELECT v.ovst_vaccine_id AS ovst_vaccine_id, {VISIT_COLUMNS},
               k.export_vaccine_code AS export_vaccine_code, v.doctor_code AS doctor_code,
               v.hospcode AS vaccine_place
        FROM ovst_vaccine v JOIN person_vaccine k ON k.person_vaccine_id = v.person_vaccine_id
        {VISIT_JOINS.format(alias="v")}
        WHERE {in_window(VISIT_STAMP)}
        ORDER BY v.ovst_vaccine_id""",
    build=_immunization,
    fields={
        **VISIT_FIELDS,
        "vaccine_code": "person_vaccine.export_vaccine_code",
        "vaccine_place": "ovst_vaccine.hospcode",
        "provider_id": "ovst_vaccine.doctor_code",
    },
)


def _allergy(row: SourceRow) -> list[Canonical]:
    return [
        {
            "record_key": row.record_key(),
            "recorded_at": row.moment("update_datetime"),
            "cid": row.text("cid"),
            "pid": row.text("hn"),
            "recorded_date": row.day("report_date"),
            "drug_code": row.text("agent_code24"),
            "drug_name": row.text("agent"),
            "allergy_type": row.text("relation_level"),
            "severity": row.text("seriousness_id"),
            "symptom": row.text("symptom"),
            "informant": row.text("informant"),
        }
    ]


# Allergies belong to the patient, not to a visit: their own stamp decides.
ALLERGY_STAMP: Final = "COALESCE(a.update_datetime, TIMESTAMP(a.report_date))"

ALLERGIES: Final = Query(
    entity="allergy",
    table="opd_allergy",
    key=("hn", "agent"),
    tables={"a": "opd_allergy", "p": "patient"},
    sql=f"""
        SELECT a.hn AS hn, a.agent AS agent, p.cid AS cid, a.report_date AS report_date,
               a.agent_code24 AS agent_code24, a.relation_level AS relation_level,
               a.seriousness_id AS seriousness_id, a.symptom AS symptom,
               a.informant AS informant, a.update_datetime AS update_datetime
        FROM opd_allergy a JOIN patient p ON p.hn = a.hn
        WHERE {in_window(ALLERGY_STAMP)}
        ORDER BY a.hn, a.agent""",
    build=_allergy,
    fields={
        "cid": "patient.cid",
        "pid": "opd_allergy.hn",
        "recorded_date": "opd_allergy.report_date",
        "recorded_at": "opd_allergy.update_datetime",
        "drug_code": "opd_allergy.agent_code24",
        "drug_name": "opd_allergy.agent",
        "allergy_type": "opd_allergy.relation_level",
        "severity": "opd_allergy.seriousness_id",
        "symptom": "opd_allergy.symptom",
        "informant": "opd_allergy.informant",
    },
)


def _imaging(row: SourceRow) -> list[Canonical]:
    return [
        {
            **visit_ref(row),
            "service_date": row.day("request_date"),
            "record_key": row.record_key(),
            "study_id": row.text("xn"),
            "modality": row.text("modality"),
            "body_site": row.text("body_site"),
            "study_code": row.text("xray_items_code"),
            "conclusion": row.text("report_text"),
            "provider_id": row.text("doctor_read"),
        }
    ]


# Not every HOSxP site runs the x-ray module: imaging is read where xray_report exists.
IMAGING: Final = Query(
    entity="imaging_report",
    table="xray_report",
    key=("xn",),
    tables={"x": "xray_report", "t": "xray_items", "o": "ovst", "q": "ovst_seq", "p": "patient"},
    sql=f"""
        SELECT x.xn AS xn, {VISIT_COLUMNS}, x.request_date AS request_date,
               x.xray_items_code AS xray_items_code, t.modality AS modality,
               t.body_site AS body_site, x.report_text AS report_text,
               x.doctor_read AS doctor_read
        FROM xray_report x JOIN xray_items t ON t.xray_items_code = x.xray_items_code
        {VISIT_JOINS.format(alias="x")}
        WHERE {in_window(VISIT_STAMP)}
        ORDER BY x.xn""",
    build=_imaging,
    fields={
        **VISIT_FIELDS,
        "service_date": "xray_report.request_date",
        "study_id": "xray_report.xn",
        "modality": "xray_items.modality",
        "body_site": "xray_items.body_site",
        "study_code": "xray_report.xray_items_code",
        "conclusion": "xray_report.report_text",
        "provider_id": "xray_report.doctor_read",
    },
    optional=True,
)
