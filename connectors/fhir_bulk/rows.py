"""What every resource mapper shares: the row it builds, the refusal it raises, the
context of the export (national IDs, visits) and the readers of the elements every clinical
resource has (its patient, its visit, its code)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from connectors.contract import CODE_COLUMNS
from connectors.fhir_bulk.code_systems import contract_code_system
from connectors.fhir_bulk.settings import FhirBulkSettings
from connectors.fhir_bulk.values import (
    ForeignCode,
    Resource,
    Unreadable,
    local_date,
    pick_coding,
    reference_id,
)

INPATIENT_CLASSES: Final = frozenset({"IMP", "ACUTE", "NONAC", "inpatient"})


class Refused(ValueError):
    """The resource cannot become a row: `field` (a FHIR element name) and the reason."""

    def __init__(self, field: str, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.rule = rule
        self.reason = reason


# The rule of a resource coded only in undeclared systems (onboarding lists the systems).
CODE_SYSTEM_DECLARED: Final = "code_system_declared"


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


def declared_code(row: Row, resource: Resource, element: str, context: Context) -> str | None:
    """The code of `element` in a system the hospital declares for the row's entity; on the
    entities whose rows name their code system (contract.CODE_COLUMNS) it sets `code_system`
    too, so a SNOMED or local code is never read as a Thai one."""
    concept = resource.get(element)
    try:
        system, code = pick_coding(concept, context.settings.systems(row.entity))
    except ForeignCode:
        raise Refused(
            element,
            CODE_SYSTEM_DECLARED,
            f"{element} is coded in no system declared for {row.entity} (code_systems)",
        ) from None
    if row.entity in CODE_COLUMNS:
        row["code_system"] = (
            None
            if code is None
            else contract_code_system(row.entity, system, context.settings.code_system_names)
        )
    return code


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


def person(row: Row, resource: Resource, context: Context, element: str) -> None:
    patient = reference_id(resource.get(element), "Patient")
    if patient is None or patient not in context.national_ids:
        raise Refused(element, "reference_resolvable", f"{element} names no Patient of the export")
    row["pid"] = patient
    row["cid"] = context.national_ids[patient]


def visit(row: Row, resource: Resource, context: Context, own_date: Any) -> None:
    """The encounter ref: the visit's class and date when the export holds the visit."""
    visit = reference_id(resource.get("encounter") or resource.get("context"), "Encounter")
    row["encounter_id"] = visit
    known = context.visits.get(visit) if visit else None
    row["encounter_class"] = known[0] if known else None
    if known and known[1] is not None:
        row["service_date"] = known[1]
    else:
        row.read("service_date", local_date, own_date)


def period_start(resource: Resource, *names: str) -> Any:
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start")
        if value is not None:
            return value
    return None
