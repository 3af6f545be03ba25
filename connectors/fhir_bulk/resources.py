"""The mappers of Patient, Encounter and the clinical resources that are not observations:
one function per resource type, returning the contract rows it yields (or raising Refused)."""

from __future__ import annotations

from connectors.fhir_bulk.rows import (
    Context,
    Row,
    declared_code,
    encounter_class,
    national_id,
    period_start,
    person,
    visit,
)
from connectors.fhir_bulk.values import (
    Resource,
    actor_id,
    concept_text,
    first,
    local_date,
    local_moment,
    number,
    pick_code,
)


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
    person(row, resource, context, "subject")
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
    person(row, resource, context, "subject")
    visit(row, resource, context, resource.get("onsetDateTime") or resource.get("recordedDate"))
    code = declared_code(row, resource, "code", context)
    native = row["code_system"] is None  # ICD-10 with its dot; other systems as sent
    row["icd10_code"] = code.replace(".", "") if code is not None and native else code
    row["provider_id"] = actor_id(resource.get("asserter") or resource.get("recorder"), "self")
    return [row]


def medication(resource: Resource, context: Context) -> list[Row]:
    """MedicationDispense, or MedicationRequest from sources that record no dispense."""
    dispensed = resource["resourceType"] == "MedicationDispense"
    row = Row("medication_dispense")
    person(row, resource, context, "subject")
    when = (
        resource.get("whenHandedOver") or resource.get("whenPrepared")
        if dispensed
        else resource.get("authoredOn")
    )
    visit(row, resource, context, when)
    concept = resource.get("medicationCodeableConcept")
    row["drug_code"] = declared_code(row, resource, "medicationCodeableConcept", context)
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
    person(row, resource, context, "subject")
    visit(row, resource, context, period_start(resource, "performedDateTime", "performedPeriod"))
    row["procedure_code"] = declared_code(row, resource, "code", context)
    row["provider_id"] = actor_id(resource.get("performer"))
    return [row]


def immunization(resource: Resource, context: Context) -> list[Row]:
    row = Row("immunization")
    person(row, resource, context, "patient")
    visit(row, resource, context, resource.get("occurrenceDateTime"))
    row["vaccine_code"] = declared_code(row, resource, "vaccineCode", context)
    row["vaccine_place"] = (resource.get("location") or {}).get("display")
    row["provider_id"] = actor_id(resource.get("performer"))
    return [row]


def allergy(resource: Resource, context: Context) -> list[Row]:
    if "medication" not in (resource.get("category") or []):
        return []  # the contract carries drug allergies (food and environment are not in it)
    row = Row("allergy")
    person(row, resource, context, "patient")
    row.read("recorded_date", local_date, resource.get("recordedDate"))
    concept = resource.get("code")
    row["drug_code"] = declared_code(row, resource, "code", context)
    row["drug_name"] = concept_text(concept)
    row["allergy_type"] = resource.get("type")
    row["severity"] = resource.get("criticality")
    reaction = first(resource.get("reaction")) or {}
    row["symptom"] = concept_text(first(reaction.get("manifestation")))
    row["informant"] = actor_id(resource.get("asserter"), "self")
    return [row]
