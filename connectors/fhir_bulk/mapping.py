"""Which mapper reads which resource type, and which entity a resource's reject counts against.

A mapper returns rows (entity, record-key suffix, columns, invalid columns) or raises
`Refused` (the field and why), which the connector turns into a reject naming the resource
type and id. Resources outside the contract's nine categories (an Observation of category
social-history, a food allergy, a laboratory DiagnosticReport whose values are Observations)
yield nothing: like the 43-files the connector does not read, they are not part of the extract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from connectors.fhir_bulk.observations import diagnostic_report, imaging_study, observation
from connectors.fhir_bulk.resources import (
    allergy,
    condition,
    encounter,
    immunization,
    medication,
    patient,
    procedure,
)
from connectors.fhir_bulk.rows import Context, Row
from connectors.fhir_bulk.values import Resource, has_code

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
