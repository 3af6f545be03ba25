"""One Expectation Suite per canonical entity, as the validation step sees it.

Input to validation is an entity table after the consent filter: the contract schema with
`cid` replaced by `patient_key` (the `patient` entity keeps `cid` and gains `patient_key`).

Every expectation is a `Rule`: the GE expectation plus what the pipeline does when it fails.
- critical: the batch as a whole is wrong (lineage broken, wrong extract date, columns
  missing); the sync step quarantines it.
- row: the failing rows are rejected one by one with a reason; the rest are loaded.
Suites are built once per entity and cached; the extract date arrives as a suite parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import great_expectations as gx
from great_expectations.expectations.row_conditions import Column

import expectations.custom as custom
from connectors.contract import CODE_COLUMNS, CODE_SYSTEM_NAMES, ENTITIES, VITAL_CODES, schema_for
from expectations.gx_context import add_suite

E = gx.expectations
Severity = Literal["critical", "row"]
# Canonical timestamps are naive Asia/Bangkok time; GE compares them as zoned times (see
# validate._frame_for_gx for why), so the rule bounds carry the same zone.
BANGKOK: Final = ZoneInfo("Asia/Bangkok")
EARLIEST_DATE: Final = datetime(1900, 1, 1, tzinfo=BANGKOK)

# Suite parameters supplied per validation (see validate.suite_parameters); the fixed lower
# bound is a parameter too, because GE's suite store cannot round-trip zoned datetimes.
EARLIEST: Final = {"$PARAMETER": "earliest"}
EXTRACT_DATE: Final = {"$PARAMETER": "extract_date"}  # midnight starting the extract date
EXTRACT_DAY_END: Final = {"$PARAMETER": "extract_day_end"}  # midnight ending it

ENCOUNTER_ENTITIES: Final = frozenset(
    {
        "encounter",
        "diagnosis",
        "medication_dispense",
        "procedure",
        "immunization",
        "vital_sign",
        "lab_result",
        "imaging_report",
    }
)

# The fields without which a row means nothing, besides the keys every entity needs.
ESSENTIAL_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "patient": ("cid", "birth_date"),
    "encounter": ("encounter_id", "encounter_class", "service_date"),
    "diagnosis": ("icd10_code", "service_date"),
    "medication_dispense": ("drug_code", "service_date"),
    "procedure": ("procedure_code", "service_date"),
    "immunization": ("vaccine_code", "service_date"),
    "vital_sign": ("vital_code", "value", "service_date"),
    "lab_result": ("lab_code", "service_date"),
    "imaging_report": ("study_id", "service_date"),
    "allergy": ("drug_code", "recorded_date"),
}
KEY_FIELDS: Final = ("hospital_code", "record_key", "patient_key")

DRUG_CODE = ("24-digit or TMT drug code", r"^(?:[0-9]{24}|[0-9]{6,7})$")
# (label, pattern) per coded column; labels go into reject reasons.
CODE_PATTERNS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "diagnosis": {"icd10_code": ("ICD-10-TM code (no dot)", r"^[A-Z][0-9]{2}[0-9A-Z]{0,4}$")},
    "medication_dispense": {"drug_code": DRUG_CODE},
    "allergy": {"drug_code": DRUG_CODE},
    # ICD-9-CM without the dot (2-4 digits) or ICD-10-TM procedure (7 digits).
    "procedure": {"procedure_code": ("procedure code", r"^(?:[0-9]{2,4}|[0-9]{7})$")},
    "immunization": {"vaccine_code": ("MOPH vaccine code", r"^[0-9A-Z]{3}$")},
    "lab_result": {"lab_code": ("MOPH lab code", r"^[0-9A-Z]{5,7}$")},
}
COMMON_PATTERNS: Final[dict[str, tuple[str, str]]] = {
    "hospital_code": ("MOPH hospital code", r"^[0-9]{5}$"),
    "patient_key": ("patient key", r"^[0-9a-f]{32}$"),
}

VALUE_SETS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "patient": {"sex": ("male", "female", "unknown")},
    "diagnosis": {"diagnosis_type": ("1", "2", "3", "4", "5")},
    "vital_sign": {"vital_code": tuple(VITAL_CODES)},
}
for _entity in CODE_COLUMNS:
    VALUE_SETS.setdefault(_entity, {})["code_system"] = CODE_SYSTEM_NAMES

# Plausible (not normal) ranges: outside them the reading is a typo or a unit mix-up.
VITAL_RANGES: Final[dict[str, tuple[float, float]]] = {
    "body_temperature": (30, 45),
    "systolic_bp": (50, 260),
    "diastolic_bp": (20, 160),
    "pulse_rate": (20, 250),
    "respiratory_rate": (4, 80),
    "body_weight": (0.5, 350),
    "body_height": (30, 250),
    "waist_circumference": (30, 250),
    "blood_glucose": (10, 1000),
    "bmi": (8, 90),
}

LINEAGE_REQUIRED: Final = ("source_file", "source_line", "batch_id")


@dataclass(frozen=True)
class Rule:
    """One expectation and how its failures are reported.

    `params` are the rule's own parameters (pattern, bounds, set): the only arguments that
    may appear in result documents. `kind` picks the reason wording in validate.py.
    """

    kind: str
    severity: Severity
    column: str | None
    expectation: Any  # a great_expectations Expectation
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    # Run on a frame of only these columns (None: the whole table). GE filters the whole
    # frame for every metric of a row-conditioned expectation, so those get a narrow one.
    frame_columns: tuple[str, ...] | None = None

    @property
    def expectation_type(self) -> str:
        return self.expectation.expectation_type


@dataclass(frozen=True)
class SuitePart:
    suite: Any  # great_expectations ExpectationSuite
    frame_columns: tuple[str, ...] | None


@dataclass(frozen=True)
class EntitySuite:
    entity: str
    parts: tuple[SuitePart, ...]  # the first part runs on the whole table
    rules: tuple[Rule, ...]
    columns: tuple[str, ...]  # the columns validation expects

    @property
    def name(self) -> str:
        return self.parts[0].suite.name


def validated_columns(entity: str) -> tuple[str, ...]:
    """Contract columns after the consent filter: `cid` becomes `patient_key`.

    `patient` keeps `cid` and gains `patient_key` right after it.
    """
    names = list(schema_for(entity).names)
    position = names.index("cid")
    if entity == "patient":
        names.insert(position + 1, "patient_key")
    else:
        names[position] = "patient_key"
    return tuple(names)


def _rules(entity: str, columns: tuple[str, ...]) -> list[Rule]:
    """Every rule of the entity, in a fixed order (a rule's position is its id in results)."""
    return [
        *_batch_rules(columns),
        *_required_rules(entity),
        *_code_rules(entity),
        *_value_set_rules(entity),
        *_date_rules(columns),
        *(_vital_rules() if entity == "vital_sign" else []),
    ]


def _batch_rules(columns: tuple[str, ...]) -> list[Rule]:
    """Critical: the batch as a whole has the columns, the extract date and its lineage."""
    return [
        Rule(
            "columns",
            "critical",
            None,
            E.ExpectTableColumnsToMatchSet(column_set=list(columns), exact_match=False),
            {"column_set": list(columns)},
        ),
        Rule(
            "extract_date",
            "critical",
            "extract_date",
            E.ExpectColumnValuesToBeBetween(
                column="extract_date", min_value=EXTRACT_DATE, max_value=EXTRACT_DATE
            ),
            {"min_value": "$extract_date", "max_value": "$extract_date"},
        ),
        *(
            Rule("not_null", "critical", name, E.ExpectColumnValuesToNotBeNull(column=name))
            for name in LINEAGE_REQUIRED
        ),
    ]


def _required_rules(entity: str) -> list[Rule]:
    """Keys and essential fields present, every field readable, the record key unique."""
    return [
        *(
            Rule("not_null", "row", name, E.ExpectColumnValuesToNotBeNull(column=name))
            for name in (*KEY_FIELDS, *ESSENTIAL_FIELDS[entity])
        ),
        Rule(
            "invalid_fields",
            "row",
            "invalid_fields",
            E.ExpectColumnValuesToBeNull(column="invalid_fields"),
        ),
        Rule("unique", "row", "record_key", E.ExpectColumnValuesToBeUnique(column="record_key")),
    ]


def _code_rules(entity: str) -> list[Rule]:
    """Well-formed codes and keys; the patient's national ID passes its check digit."""
    patterns = {**COMMON_PATTERNS, **CODE_PATTERNS.get(entity, {})}
    rules = [_regex_rule(entity, name, label, regex) for name, (label, regex) in patterns.items()]
    if entity == "patient":
        rules.append(
            Rule(
                "national_id",
                "row",
                "cid",
                custom.ExpectColumnValuesToBeValidThaiNationalId(column="cid"),
            )
        )
    return rules


def _regex_rule(entity: str, name: str, label: str, regex: str) -> Rule:
    """A code column's pattern is its native system's shape: a row that names another system
    (code_system, connectors.contract) is checked by that name's value set instead."""
    if CODE_COLUMNS.get(entity) != name:
        expectation = E.ExpectColumnValuesToMatchRegex(column=name, regex=regex)
        return Rule("regex", "row", name, expectation, {"regex": regex}, label)
    native = Column("code_system").is_null()
    return Rule(
        "regex",
        "row",
        name,
        E.ExpectColumnValuesToMatchRegex(column=name, regex=regex, row_condition=native),
        {"regex": regex, "row_condition": "code_system is null"},
        label,
        frame_columns=(name, "code_system"),
    )


def _value_set_rules(entity: str) -> list[Rule]:
    value_sets = dict(VALUE_SETS.get(entity, {}))
    if entity in ENCOUNTER_ENTITIES:
        value_sets["encounter_class"] = ("OPD", "IPD")
    return [
        Rule(
            "in_set",
            "row",
            name,
            E.ExpectColumnValuesToBeInSet(column=name, value_set=list(allowed)),
            {"value_set": list(allowed)},
        )
        for name, allowed in value_sets.items()
    ]


def _date_rules(columns: tuple[str, ...]) -> list[Rule]:
    """Dates from 1900 to the extract date; timestamps before the end of the extract date."""
    dates = [
        Rule(
            "date_range",
            "row",
            name,
            E.ExpectColumnValuesToBeBetween(
                column=name, min_value=EARLIEST, max_value=EXTRACT_DATE
            ),
            {"min_value": "1900-01-01", "max_value": "$extract_date"},
        )
        for name in ("service_date", "birth_date", "recorded_date")
        if name in columns
    ]
    timestamps = [
        Rule(
            "timestamp_range",
            "row",
            name,
            E.ExpectColumnValuesToBeBetween(
                column=name, min_value=EARLIEST, max_value=EXTRACT_DAY_END, strict_max=True
            ),
            {
                "min_value": "1900-01-01T00:00:00",
                "max_value": "$extract_day_end",
                "strict_max": True,
            },
        )
        for name in ("recorded_at", "start_at", "end_at")
        if name in columns
    ]
    return dates + timestamps


def _vital_rules() -> list[Rule]:
    """A plausible range per vital code (run on a narrow frame, see Rule.frame_columns)."""
    return [
        Rule(
            "vital_range",
            "row",
            "value",
            E.ExpectColumnValuesToBeBetween(
                column="value",
                min_value=low,
                max_value=high,
                row_condition=Column("vital_code") == code,
            ),
            {"min_value": low, "max_value": high, "row_condition": f"vital_code == {code!r}"},
            code,
            frame_columns=("vital_code", "value"),
        )
        for code, (low, high) in VITAL_RANGES.items()
    ]


@cache
def suite_for(entity: str) -> EntitySuite:
    """The cached suite of `entity`; each rule's position is kept in the expectation's meta."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown entity {entity!r}; known: {', '.join(ENTITIES)}")
    columns = validated_columns(entity)
    rules = _rules(entity, columns)
    groups: dict[tuple[str, ...] | None, list[Any]] = {None: []}
    for position, rule in enumerate(rules):
        rule.expectation.meta = {"rule": position, "severity": rule.severity}
        groups.setdefault(rule.frame_columns, []).append(rule.expectation)
    parts = []
    for number, (frame_columns, group) in enumerate(groups.items()):
        name = f"healthlink_{entity}" + (f"_part{number}" if number else "")
        parts.append(
            SuitePart(add_suite(gx.ExpectationSuite(name=name, expectations=group)), frame_columns)
        )
    return EntitySuite(entity, tuple(parts), tuple(rules), columns)
