"""The mappers of Observation (vital signs by LOINC code, in the contract's units; laboratory
results), DiagnosticReport (imaging reports) and ImagingStudy."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final

from connectors.contract import VITAL_CODES
from connectors.fhir_bulk.rows import (
    Context,
    Refused,
    Row,
    declared_code,
    period_start,
    person,
    visit,
)
from connectors.fhir_bulk.values import (
    Resource,
    Unreadable,
    actor_id,
    concept_text,
    first,
    has_code,
    number,
    pick_code,
)

LOINC: Final = "http://loinc.org"
VITAL_LOINC: Final[dict[str, str]] = {
    "8310-5": "body_temperature",
    "8480-6": "systolic_bp",
    "8462-4": "diastolic_bp",
    "8867-4": "pulse_rate",
    "9279-1": "respiratory_rate",
    "29463-7": "body_weight",
    "3141-9": "body_weight",
    "8302-2": "body_height",
    "8306-3": "body_height",
    "39156-5": "bmi",
    "8280-0": "waist_circumference",
    "56086-2": "waist_circumference",
    "2339-0": "blood_glucose",
    "2345-7": "blood_glucose",
}
BLOOD_PRESSURE_PANEL: Final = "85354-9"
# UCUM units a source may send, converted to the contract's unit of that vital.
UNIT_CONVERSIONS: Final[dict[tuple[str, str], Callable[[float], float]]] = {
    ("[degF]", "Cel"): lambda v: (v - 32) * 5 / 9,
    ("[lb_av]", "kg"): lambda v: v * 0.45359237,
    ("g", "kg"): lambda v: v / 1000,
    ("[in_i]", "cm"): lambda v: v * 2.54,
    ("m", "cm"): lambda v: v * 100,
    ("mmol/L", "mg/dL"): lambda v: v * 18.0156,  # glucose only: the one mmol vital
    ("beats/min", "/min"): lambda v: v,
    ("{beats}/min", "/min"): lambda v: v,
    ("{breaths}/min", "/min"): lambda v: v,
}
IMAGING_CATEGORIES: Final = ("RAD", "LP29684-5", "imaging", "radiology")


def observation(resource: Resource, context: Context) -> list[Row]:
    category = resource.get("category")
    if has_code(category, None, ("vital-signs",)):
        return _vitals(resource, context)
    if has_code(category, None, ("laboratory",)):
        return [_lab(resource, context)]
    return []  # social history, surveys, exams: not in the contract


def _vitals(resource: Resource, context: Context) -> list[Row]:
    parts = [resource]
    if has_code(resource.get("code"), LOINC, (BLOOD_PRESSURE_PANEL,)):
        parts = resource.get("component") or []
    rows = []
    for part in parts:
        loinc = next(
            (
                c.get("code")
                for c in (part.get("code") or {}).get("coding") or []
                if c.get("system") == LOINC and c.get("code") in VITAL_LOINC
            ),
            None,
        )
        if loinc is None:
            raise Refused(
                "code", "code_mappable", "vital-signs code is none of the contract's vitals"
            )
        vital = VITAL_LOINC[loinc]
        row = Row("vital_sign", vital)
        person(row, resource, context, "subject")
        visit(
            row, resource, context, period_start(resource, "effectiveDateTime", "effectivePeriod")
        )
        row["vital_code"] = vital
        row["unit"] = VITAL_CODES[vital]
        row.read("value", partial(_in_contract_unit, unit=row["unit"]), part.get("valueQuantity"))
        rows.append(row)
    return rows


def _in_contract_unit(quantity: Any, unit: str) -> float | None:
    if quantity is None:
        return None
    value = number(quantity.get("value"))
    sent = quantity.get("code") or quantity.get("unit")
    if value is None or sent in (None, unit):
        return value
    convert = UNIT_CONVERSIONS.get((sent, unit))
    if convert is None:
        raise Unreadable  # a unit we cannot convert: the value is not what the column means
    return round(convert(value), 2)


def _lab(resource: Resource, context: Context) -> Row:
    row = Row("lab_result")
    person(row, resource, context, "subject")
    visit(row, resource, context, period_start(resource, "effectiveDateTime", "effectivePeriod"))
    row["lab_code"] = declared_code(row, resource, "code", context)
    quantity = resource.get("valueQuantity")
    row["result_value"] = None
    row["result_text"] = resource.get("valueString") or concept_text(
        resource.get("valueCodeableConcept")
    )
    if isinstance(quantity, dict):
        if quantity.get("comparator"):  # '<0.5' is text, as in the 43-file LABFU
            row["result_text"] = f"{quantity['comparator']}{quantity.get('value')}"
        else:
            row.read("result_value", number, quantity.get("value"))
    return row


def diagnostic_report(resource: Resource, context: Context) -> list[Row]:
    if not has_code(resource.get("category"), None, IMAGING_CATEGORIES):
        return []  # a lab report: its values arrive as Observations
    row = Row("imaging_report")
    person(row, resource, context, "subject")
    visit(row, resource, context, period_start(resource, "effectiveDateTime", "effectivePeriod"))
    identifier = first(resource.get("identifier")) or {}
    row["study_id"] = identifier.get("value") or resource.get("id")
    row["study_code"] = declared_code(row, resource, "code", context)
    row["conclusion"] = resource.get("conclusion")
    row["provider_id"] = actor_id(resource.get("resultsInterpreter"), "self")
    return [row]


def imaging_study(resource: Resource, context: Context) -> list[Row]:
    row = Row("imaging_report")
    person(row, resource, context, "subject")
    visit(row, resource, context, resource.get("started"))
    identifier = first(resource.get("identifier")) or {}
    row["study_id"] = identifier.get("value") or resource.get("id")
    row["modality"] = (first(resource.get("modality")) or {}).get("code")
    site = (first(resource.get("series")) or {}).get("bodySite") or {}
    row["body_site"] = site.get("display") or site.get("code")
    row["study_code"] = pick_code(first(resource.get("procedureCode")), ())
    row["provider_id"] = actor_id(resource.get("interpreter"), "self")
    return [row]
