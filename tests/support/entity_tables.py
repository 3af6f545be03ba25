"""Canonical entity tables as the validation step receives them (after the consent filter)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.th import pin

from connectors.contract import schema_for
from expectations.suites import validated_columns

EXTRACT_DATE = date(2026, 11, 24)
PATIENT_KEY = "0123456789abcdef0123456789abcdef"
VALID_CID = "110170020345" + pin.calc_check_digit("110170020345")  # synthetic


def validated_schema(entity: str) -> pa.Schema:
    contract = schema_for(entity)
    fields = {f.name: f for f in contract}
    fields["patient_key"] = pa.field("patient_key", pa.string())
    return pa.schema([fields[name] for name in validated_columns(entity)])


_ENTITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "patient": {
        "cid": VALID_CID,
        "hn": "000123",
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "sex": "male",
        "birth_date": date(1980, 5, 17),
    },
    "vital_sign": {"vital_code": "body_temperature", "value": 37.0, "unit": "Cel"},
    "lab_result": {"lab_code": "0531002", "result_value": 5.4, "result_text": None},
    "diagnosis": {"diagnosis_type": "1", "icd10_code": "E119", "provider_id": "p1"},
    "medication_dispense": {"drug_code": "1" * 24, "drug_name": "x", "quantity": 1.0},
    "immunization": {"vaccine_code": "010"},
    "imaging_report": {"study_id": "ST1", "modality": "CR"},
    "encounter": {"start_at": datetime(2026, 11, 20, 8), "end_at": datetime(2026, 11, 20, 9)},
    "procedure": {"procedure_code": "8952"},
    "allergy": {"recorded_date": date(2026, 1, 5), "drug_code": "1" * 24},
}


def make_row(entity: str, line: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "hospital_code": "10669",
        "source_file": "FILE",
        "source_line": line,
        "extract_date": EXTRACT_DATE,
        "batch_id": "batch-1",
        "record_key": f"key-{line}",
        "recorded_at": datetime(2026, 11, 24, 9, 30),
        "invalid_fields": None,
        "patient_key": PATIENT_KEY,
        "pid": "1",
    }
    if "service_date" in validated_columns(entity):
        row |= {
            "encounter_id": "seq-1",
            "encounter_class": "OPD",
            "service_date": date(2026, 11, 20),
        }
    row |= _ENTITY_DEFAULTS.get(entity, {})
    row |= overrides
    return row


def make_table(entity: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=validated_schema(entity))


def synthetic_table(entity: str, n: int, seed: int = 1) -> pa.Table:
    """n valid rows of lab_result or vital_sign, built column-wise (fast enough for 1M)."""
    rng = np.random.default_rng(seed)
    lines = np.arange(n, dtype=np.int64) + 2
    keys = pc.binary_join_element_wise("k", pa.array(lines).cast(pa.string()), "")
    days = rng.integers(0, 30, n)
    service = pa.array((np.datetime64("2026-10-25") + days).astype("datetime64[D]"))
    patient_keys = np.array([f"{i:032x}" for i in range(1000)])[rng.integers(0, 1000, n)]
    columns: dict[str, Any] = {
        "hospital_code": pa.array(np.full(n, "10669")),
        "source_file": pa.array(np.full(n, "LABFU" if entity == "lab_result" else "SERVICE")),
        "source_line": lines,
        "extract_date": pa.array(np.full(n, np.datetime64("2026-11-24", "D"))),
        "batch_id": pa.array(np.full(n, "batch-1")),
        "record_key": keys,
        "recorded_at": pa.array(np.full(n, np.datetime64("2026-11-24T08:00:00", "us"))),
        "invalid_fields": pa.nulls(n, pa.string()),
        "patient_key": pa.array(patient_keys),
        "pid": pa.array(np.full(n, "1")),
        "encounter_id": pa.array(np.full(n, "seq")),
        "encounter_class": pa.array(np.where(rng.random(n) < 0.9, "OPD", "IPD")),
        "service_date": service,
    }
    if entity == "lab_result":
        codes = np.array(["0531002", "0546602", "0581902", "32203", "0510201"])
        columns |= {
            "lab_code": pa.array(codes[rng.integers(0, len(codes), n)]),
            "result_value": rng.normal(100, 20, n),
            "result_text": pa.nulls(n, pa.string()),
        }
    else:
        codes = np.array(list(_VITAL_TYPICAL))
        picked = rng.integers(0, len(codes), n)
        typical = np.array(list(_VITAL_TYPICAL.values()))[picked]
        columns |= {
            "vital_code": pa.array(codes[picked]),
            "value": typical * rng.uniform(0.9, 1.1, n),
            "unit": pa.array(np.full(n, "x")),
        }
    schema = validated_schema(entity)
    return pa.table(
        {
            name: pa.array(columns[name]).cast(schema.field(name).type)
            if not isinstance(columns[name], pa.Array)
            else columns[name].cast(schema.field(name).type)
            for name in schema.names
        },
        schema=schema,
    )


_VITAL_TYPICAL = {
    "body_temperature": 37.0,
    "systolic_bp": 120.0,
    "diastolic_bp": 80.0,
    "pulse_rate": 80.0,
    "respiratory_rate": 18.0,
    "body_weight": 60.0,
    "body_height": 160.0,
    "waist_circumference": 80.0,
    "blood_glucose": 100.0,
    "bmi": 23.0,
}
