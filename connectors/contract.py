"""The canonical extract contract: what every connector yields, whatever its source.

One Arrow schema per clinical entity. A connector maps its source files onto these
entities (the 43-file SERVICE file feeds both `encounter` and `vital_sign`, for example)
and fills the lineage columns so that every row can be traced back to its file and line.

Rules every connector follows (see docs/contract.md):
- timestamps are naive local hospital time (Asia/Bangkok), dates are Gregorian;
- a value that is absent in the source is null; a value that is present but cannot be
  read (an unparseable date, a non-numeric result) is also null here, and the source
  text is kept in `invalid_fields` so validation can say what was wrong and where;
- `record_key` identifies the record within its hospital and entity, so that a re-sent
  record replaces the earlier copy;
- `cid` is the 13-digit Thai national ID exactly as the source wrote it (trimmed);
- `code_system` (on the entities of CODE_COLUMNS) is null when the code is in the entity's
  native Thai system (NATIVE_CODE_SYSTEMS; dbt tells them apart by shape), else the name of
  the system it is in (CODE_SYSTEM_NAMES; `local` for a hospital's own codes).
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

TIMESTAMP = pa.timestamp("us")

# Columns every entity carries, first in every schema.
LINEAGE_FIELDS: Final[list[pa.Field]] = [
    pa.field("hospital_code", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("source_line", pa.int64(), nullable=False),
    pa.field("extract_date", pa.date32(), nullable=False),
    pa.field("batch_id", pa.string(), nullable=False),
    pa.field("record_key", pa.string(), nullable=False),
    pa.field("recorded_at", TIMESTAMP),
    # Comma-separated canonical column names whose source text could not be read.
    pa.field("invalid_fields", pa.string()),
]

PERSON_FIELDS: Final[list[pa.Field]] = [
    pa.field("cid", pa.string()),
    pa.field("pid", pa.string()),
]

# Encounter reference shared by the clinical entities. For an outpatient visit the
# encounter id is the 43-file SEQ, for an admission it is the AN.
ENCOUNTER_REF: Final[list[pa.Field]] = [
    pa.field("encounter_id", pa.string()),
    pa.field("encounter_class", pa.string()),  # 'OPD' | 'IPD'
    pa.field("service_date", pa.date32()),
]

ENTITY_FIELDS: Final[dict[str, list[pa.Field]]] = {
    "patient": [
        pa.field("hn", pa.string()),
        pa.field("prename", pa.string()),
        pa.field("first_name", pa.string()),
        pa.field("last_name", pa.string()),
        pa.field("sex", pa.string()),  # 'male' | 'female' | 'unknown'
        pa.field("birth_date", pa.date32()),
    ],
    "encounter": [
        *ENCOUNTER_REF,
        pa.field("admission_id", pa.string()),
        pa.field("start_at", TIMESTAMP),
        pa.field("end_at", TIMESTAMP),
        pa.field("location", pa.string()),
        pa.field("chief_complaint", pa.string()),
        pa.field("discharge_status", pa.string()),
    ],
    "diagnosis": [
        *ENCOUNTER_REF,
        pa.field("diagnosis_type", pa.string()),  # 1 principal .. 5 external cause
        pa.field("icd10_code", pa.string()),  # ICD-10-TM, no dot
        pa.field("provider_id", pa.string()),
        pa.field("code_system", pa.string()),
    ],
    "medication_dispense": [
        *ENCOUNTER_REF,
        pa.field("drug_code", pa.string()),  # 24-digit / TMT
        pa.field("drug_name", pa.string()),
        pa.field("quantity", pa.float64()),
        pa.field("unit", pa.string()),
        pa.field("provider_id", pa.string()),
        pa.field("code_system", pa.string()),
    ],
    "procedure": [
        *ENCOUNTER_REF,
        pa.field("procedure_code", pa.string()),
        pa.field("provider_id", pa.string()),
        pa.field("code_system", pa.string()),
    ],
    "immunization": [
        *ENCOUNTER_REF,
        pa.field("vaccine_code", pa.string()),  # MOPH 3-character vaccine code
        pa.field("vaccine_place", pa.string()),
        pa.field("provider_id", pa.string()),
        pa.field("code_system", pa.string()),
    ],
    "vital_sign": [
        *ENCOUNTER_REF,
        pa.field("vital_code", pa.string()),  # one of VITAL_CODES
        pa.field("value", pa.float64()),
        pa.field("unit", pa.string()),
    ],
    "lab_result": [
        *ENCOUNTER_REF,
        pa.field("lab_code", pa.string()),  # MOPH lab code
        pa.field("result_value", pa.float64()),
        pa.field("result_text", pa.string()),
        pa.field("code_system", pa.string()),
    ],
    "imaging_report": [
        *ENCOUNTER_REF,
        pa.field("study_id", pa.string()),
        pa.field("modality", pa.string()),
        pa.field("body_site", pa.string()),
        pa.field("study_code", pa.string()),
        pa.field("conclusion", pa.string()),
        pa.field("provider_id", pa.string()),
    ],
    "allergy": [
        pa.field("recorded_date", pa.date32()),
        pa.field("drug_code", pa.string()),
        pa.field("drug_name", pa.string()),
        pa.field("allergy_type", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("symptom", pa.string()),
        pa.field("informant", pa.string()),
        pa.field("code_system", pa.string()),
    ],
}

ENTITIES: Final[tuple[str, ...]] = tuple(ENTITY_FIELDS)

# The entities whose rows say which code system their code is in (`code_system`, last in
# the schema: raw tables older than it gain it at the end), and that code's column.
CODE_COLUMNS: Final[dict[str, str]] = {
    "diagnosis": "icd10_code",
    "medication_dispense": "drug_code",
    "procedure": "procedure_code",
    "immunization": "vaccine_code",
    "lab_result": "lab_code",
    "allergy": "drug_code",
}
# What `code_system` may say. Names, not URIs: connectors map their sources' system
# identifiers onto these (the FHIR one in connectors/fhir_bulk/code_systems.py).
CODE_SYSTEM_NAMES: Final[tuple[str, ...]] = (
    "icd10",  # ICD-10 / ICD-10-TM
    "icd9cm",  # ICD-9-CM procedures
    "icd10tm_pcs",  # ICD-10-TM procedures (7 digits)
    "tmt",  # Thai Medicines Terminology
    "drug_24_digit",  # MOPH 24-digit drug code
    "moph_lab",  # MOPH lab code
    "moph_vaccine",  # MOPH 3-character vaccine code
    "atc",  # WHO ATC
    "snomed",  # SNOMED CT
    "rxnorm",  # RxNorm
    "loinc",  # LOINC
    "cvx",  # CDC vaccine codes
    "local",  # a hospital's own code system: its codes mean nothing elsewhere
)
# The systems each code column natively holds: a row coded in one of them says null, and
# the warehouse reads the code as every 43-file and HOSxP code is read (by its shape).
NATIVE_CODE_SYSTEMS: Final[dict[str, frozenset[str]]] = {
    "diagnosis": frozenset({"icd10"}),
    "medication_dispense": frozenset({"tmt", "drug_24_digit"}),
    "procedure": frozenset({"icd9cm", "icd10tm_pcs"}),
    "immunization": frozenset({"moph_vaccine"}),
    "lab_result": frozenset({"moph_lab"}),
    "allergy": frozenset({"tmt", "drug_24_digit"}),
}

# Vital sign codes and their units (canonical, UCUM).
VITAL_CODES: Final[dict[str, str]] = {
    "body_temperature": "Cel",
    "systolic_bp": "mm[Hg]",
    "diastolic_bp": "mm[Hg]",
    "pulse_rate": "/min",
    "respiratory_rate": "/min",
    "body_weight": "kg",
    "body_height": "cm",
    "bmi": "kg/m2",
    "waist_circumference": "cm",
    "blood_glucose": "mg/dL",
}


def schema_for(entity: str) -> pa.Schema:
    """The Arrow schema a connector must yield for `entity`."""
    try:
        fields = ENTITY_FIELDS[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; known: {', '.join(ENTITIES)}") from None
    return pa.schema([*LINEAGE_FIELDS, *PERSON_FIELDS, *fields])


def empty_table(entity: str) -> pa.Table:
    return schema_for(entity).empty_table()
