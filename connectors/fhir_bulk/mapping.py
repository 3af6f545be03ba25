"""One function per FHIR resource type: the contract rows a resource yields.

A mapper returns rows (entity, record-key suffix, columns, invalid columns) or raises
`Refused` (the field and why), which the connector turns into a reject naming the resource
type and id. Resources outside the contract's nine categories (an Observation of category
social-history, a food allergy, a laboratory DiagnosticReport whose values are Observations)
yield nothing: like the 43-files the connector does not read, they are not part of the extract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any, Final

from connectors.contract import VITAL_CODES
from connectors.fhir_bulk.settings import FhirBulkSettings
from connectors.fhir_bulk.values import (
    ForeignCode,
    Resource,
    Unreadable,
    actor_id,
    concept_text,
    first,
    has_code,
    local_date,
    local_moment,
    number,
    pick_code,
    reference_id,
)

INPATIENT_CLASSES: Final = frozenset({"IMP", "ACUTE", "NONAC", "inpatient"})
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


class Refused(ValueError):
    """The resource cannot become a row: `field` (a FHIR element name) and the reason."""

    def __init__(self, field: str, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.rule = rule
        self.reason = reason


class Row(dict[str, Any]):
    """One contract row's columns, with the columns whose source value was unreadable."""

    def __init__(self, entity: str, key_suffix: str = "") -> None:
        super().__init__()
        self.entity = entity
        self.key_suffix = key_suffix
        self.invalid: list[str] = []

    def read(self, column: str, reader: Callable[[Any], Any], value: Any) -> Any:
        try:
            self[column] = reader(value)
        except Unreadable:
            self[column] = None
            self.invalid.append(column)
        return self[column]


@dataclass
class Context:
    """What rows need from other resources of the export: national IDs and visits."""

    settings: FhirBulkSettings
    national_ids: dict[str, str | None] = field(default_factory=dict)  # Patient id -> cid
    visits: dict[str, tuple[str | None, date | None]] = field(default_factory=dict)


def _code(resource: Resource, element: str, entity: str, context: Context) -> str | None:
    """The code of `element` in a system the hospital declares for `entity`."""
    concept = resource.get(element)
    try:
        return pick_code(concept, context.settings.systems(entity))
    except ForeignCode:
        raise Refused(
            element,
            "code_system_declared",
            f"{element} is coded in no system declared for {entity} (code_systems)",
        ) from None


def national_id(resource: Resource, system: str) -> str | None:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = identifier.get("value")
            return value.strip() if isinstance(value, str) else None
    return None


def encounter_class(resource: Resource) -> str | None:
    code = (resource.get("class") or {}).get("code")
    if code is None:
        return None
    return "IPD" if code in INPATIENT_CLASSES else "OPD"


def _person(row: Row, resource: Resource, context: Context, element: str) -> None:
    patient = reference_id(resource.get(element), "Patient")
    if patient is None or patient not in context.national_ids:
        raise Refused(element, "reference_resolvable", f"{element} names no Patient of the export")
    row["pid"] = patient
    row["cid"] = context.national_ids[patient]


def _visit(row: Row, resource: Resource, context: Context, own_date: Any) -> None:
    """The encounter ref: the visit's class and date when the export holds the visit."""
    visit = reference_id(resource.get("encounter") or resource.get("context"), "Encounter")
    row["encounter_id"] = visit
    known = context.visits.get(visit) if visit else None
    row["encounter_class"] = known[0] if known else None
    if known and known[1] is not None:
        row["service_date"] = known[1]
    else:
        row.read("service_date", local_date, own_date)


def _period_start(resource: Resource, *names: str) -> Any:
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start")
        if value is not None:
            return value
    return None


def patient(resource: Resource, context: Context) -> list[Row]:
    row = Row("patient")
    settings = context.settings
    row["pid"] = resource.get("id")
    row["cid"] = national_id(resource, settings.national_id_system)
    row["hn"] = national_id(resource, settings.hn_system) if settings.hn_system else None
    names = resource.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), first(names)) or {}
    row["prename"] = first(name.get("prefix"))
    given = name.get("given") or None
    row["first_name"] = " ".join(given) if isinstance(given, list) else given
    row["last_name"] = name.get("family")
    gender = resource.get("gender")
    row["sex"] = gender if gender in ("male", "female") else "unknown"
    row.read("birth_date", local_date, resource.get("birthDate"))
    return [row]


def encounter(resource: Resource, context: Context) -> list[Row]:
    row = Row("encounter")
    _person(row, resource, context, "subject")
    row["encounter_id"] = resource.get("id")
    row["encounter_class"] = encounter_class(resource)
    period = resource.get("period") or {}
    start = row.read("start_at", local_moment, period.get("start"))
    row["service_date"] = start.date() if start else None
    if "start_at" in row.invalid:
        row.invalid.append("service_date")  # the visit's date is read from its start
    row.read("end_at", local_moment, period.get("end"))
    row["admission_id"] = resource.get("id") if row["encounter_class"] == "IPD" else None
    place = first(resource.get("location")) or {}
    row["location"] = (place.get("location") or {}).get("display")
    row["chief_complaint"] = concept_text(first(resource.get("reasonCode")))
    disposition = (resource.get("hospitalization") or {}).get("dischargeDisposition")
    row["discharge_status"] = pick_code(disposition, ())
    return [row]


def condition(resource: Resource, context: Context) -> list[Row]:
    row = Row("diagnosis")
    _person(row, resource, context, "subject")
    _visit(row, resource, context, resource.get("onsetDateTime") or resource.get("recordedDate"))
    code = _code(resource, "code", "diagnosis", context)
    row["icd10_code"] = code.replace(".", "") if code else None  # ICD-10 with its dot
    row["provider_id"] = actor_id(resource.get("asserter") or resource.get("recorder"), "self")
    return [row]


def medication(resource: Resource, context: Context) -> list[Row]:
    """MedicationDispense, or MedicationRequest from sources that record no dispense."""
    dispensed = resource["resourceType"] == "MedicationDispense"
    row = Row("medication_dispense")
    _person(row, resource, context, "subject")
    when = (
        resource.get("whenHandedOver") or resource.get("whenPrepared")
        if dispensed
        else resource.get("authoredOn")
    )
    _visit(row, resource, context, when)
    concept = resource.get("medicationCodeableConcept")
    row["drug_code"] = _code(resource, "medicationCodeableConcept", "medication_dispense", context)
    row["drug_name"] = concept_text(concept)
    quantity = (
        resource.get("quantity")
        if dispensed
        else (resource.get("dispenseRequest") or {}).get("quantity")
    ) or {}
    row.read("quantity", number, quantity.get("value"))
    row["unit"] = quantity.get("unit") or quantity.get("code")
    row["provider_id"] = (
        actor_id(resource.get("performer"))
        if dispensed
        else actor_id(resource.get("requester"), "self")
    )
    return [row]


def procedure(resource: Resource, context: Context) -> list[Row]:
    row = Row("procedure")
    _person(row, resource, context, "subject")
    _visit(row, resource, context, _period_start(resource, "performedDateTime", "performedPeriod"))
    row["procedure_code"] = _code(resource, "code", "procedure", context)
    row["provider_id"] = actor_id(resource.get("performer"))
    return [row]


def immunization(resource: Resource, context: Context) -> list[Row]:
    row = Row("immunization")
    _person(row, resource, context, "patient")
    _visit(row, resource, context, resource.get("occurrenceDateTime"))
    row["vaccine_code"] = _code(resource, "vaccineCode", "immunization", context)
    row["vaccine_place"] = (resource.get("location") or {}).get("display")
    row["provider_id"] = actor_id(resource.get("performer"))
    return [row]


def allergy(resource: Resource, context: Context) -> list[Row]:
    if "medication" not in (resource.get("category") or []):
        return []  # the contract carries drug allergies (food and environment are not in it)
    row = Row("allergy")
    _person(row, resource, context, "patient")
    row.read("recorded_date", local_date, resource.get("recordedDate"))
    concept = resource.get("code")
    row["drug_code"] = _code(resource, "code", "allergy", context)
    row["drug_name"] = concept_text(concept)
    row["allergy_type"] = resource.get("type")
    row["severity"] = resource.get("criticality")
    reaction = first(resource.get("reaction")) or {}
    row["symptom"] = concept_text(first(reaction.get("manifestation")))
    row["informant"] = actor_id(resource.get("asserter"), "self")
    return [row]


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
        _person(row, resource, context, "subject")
        _visit(
            row, resource, context, _period_start(resource, "effectiveDateTime", "effectivePeriod")
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
    _person(row, resource, context, "subject")
    _visit(row, resource, context, _period_start(resource, "effectiveDateTime", "effectivePeriod"))
    row["lab_code"] = _code(resource, "code", "lab_result", context)
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
    _person(row, resource, context, "subject")
    _visit(row, resource, context, _period_start(resource, "effectiveDateTime", "effectivePeriod"))
    identifier = first(resource.get("identifier")) or {}
    row["study_id"] = identifier.get("value") or resource.get("id")
    row["study_code"] = _code(resource, "code", "imaging_report", context)
    row["conclusion"] = resource.get("conclusion")
    row["provider_id"] = actor_id(resource.get("resultsInterpreter"), "self")
    return [row]


def imaging_study(resource: Resource, context: Context) -> list[Row]:
    row = Row("imaging_report")
    _person(row, resource, context, "subject")
    _visit(row, resource, context, resource.get("started"))
    identifier = first(resource.get("identifier")) or {}
    row["study_id"] = identifier.get("value") or resource.get("id")
    row["modality"] = (first(resource.get("modality")) or {}).get("code")
    site = (first(resource.get("series")) or {}).get("bodySite") or {}
    row["body_site"] = site.get("display") or site.get("code")
    row["study_code"] = pick_code(first(resource.get("procedureCode")), ())
    row["provider_id"] = actor_id(resource.get("interpreter"), "self")
    return [row]


Mapper = Callable[[Resource, Context], list[Row]]
MAPPERS: Final[dict[str, Mapper]] = {
    "Patient": patient,
    "Encounter": encounter,
    "Condition": condition,
    "MedicationDispense": medication,
    "MedicationRequest": medication,
    "Procedure": procedure,
    "Immunization": immunization,
    "AllergyIntolerance": allergy,
    "Observation": observation,
    "DiagnosticReport": diagnostic_report,
    "ImagingStudy": imaging_study,
}
# The entity a resource's reject is counted against (an Observation's depends on its category).
ENTITY_OF: Final[dict[str, str]] = {
    "Patient": "patient",
    "Encounter": "encounter",
    "Condition": "diagnosis",
    "MedicationDispense": "medication_dispense",
    "MedicationRequest": "medication_dispense",
    "Procedure": "procedure",
    "Immunization": "immunization",
    "AllergyIntolerance": "allergy",
    "Observation": "lab_result",
    "DiagnosticReport": "imaging_report",
    "ImagingStudy": "imaging_report",
}


def reject_entity(resource: Resource) -> str:
    if resource.get("resourceType") == "Observation" and has_code(
        resource.get("category"), None, ("vital-signs",)
    ):
        return "vital_sign"
    return ENTITY_OF.get(str(resource.get("resourceType")), "patient")
