"""A batch's consent filter asks the warehouse about the batch's own patients only (DuckDB and
PostgreSQL): a national warehouse holds a million consents, a batch a few thousand patients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from connectors.contract import schema_for
from tests.support.consent_kit import (
    DAY0,
    H1,
    H3,
    KEY,
    NET01,
    bkk,
    key_of,
    national_id,
    registration,
    registry,
)
from tests.support.entity_tables import make_row
from warehouse import consent as cs
from warehouse.consent import SenderChoice
from warehouse.consent.sender_choice import allowed_patient_keys
from warehouse.pipeline.batch import BatchPatients, apply_consent

REG = registry()
COUNTRY = range(10, 40)  # consenting to every hospital, none of them in the batch
UNREADABLE = "1234567890123"  # fails the check digit


@pytest.fixture(autouse=True)
def _consents(conn: Any) -> None:
    """1 ALL; 2 network NET01 (H1's); 3 hospital H1; 4 hospital H3 only; 5 withdrawn;
    6 never registered; and the rest of the country."""
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=bkk(2025, 1, 1))
    choices = {
        1: SenderChoice.everyone(),
        2: SenderChoice.of(networks={NET01}),
        3: SenderChoice.of(hospitals={H1}),
        4: SenderChoice.of(hospitals={H3}),
        5: SenderChoice.everyone(),
        **{serial: SenderChoice.everyone() for serial in COUNTRY},
    }
    for serial, choice in choices.items():
        reg = registration(serial, choice, verified_at=DAY0 - timedelta(minutes=5))
        cs.register(conn, REG, reg, KEY, now=DAY0)
    cs.withdraw(conn, key_of(5), now=DAY0 + timedelta(hours=1))


def _table(entity: str, cids: list[str]) -> pa.Table:
    """As a connector yields it (a `cid`, no patient key), a row per national ID."""
    rows = [make_row(entity, line, cid=cid) for line, cid in enumerate(cids, start=2)]
    return pa.Table.from_pylist(rows, schema=schema_for(entity))


def _keys(*serials: int) -> set[str]:
    return {key_of(serial) for serial in serials}


def test_the_warehouse_answers_for_the_patients_asked_about_only(conn: Any) -> None:
    asked = pa.array([key_of(n) for n in range(1, 7)] + ["0" * 32], pa.string())
    assert set(allowed_patient_keys(conn, H1, asked).to_pylist()) == _keys(1, 2, 3)
    assert set(allowed_patient_keys(conn, H3, asked).to_pylist()) == _keys(1, 4)
    assert allowed_patient_keys(conn, H1, pa.array([], pa.string())).to_pylist() == []


def test_a_batch_keeps_the_rows_of_its_consenting_patients(conn: Any) -> None:
    """Consenting by ALL, by network, by hospital; not: another hospital's, withdrawn, never
    registered; an unreadable ID is rejected. Patients repeat across entities."""
    tables = {
        "diagnosis": _table("diagnosis", [national_id(n) for n in (1, 2, 3, 4, 5, 6, 1, 4)]),
        "lab_result": _table(
            "lab_result", [national_id(n) for n in (6, 3, 2)] + [UNREADABLE, national_id(1)]
        ),
    }
    patients = BatchPatients.of(tables.values(), KEY)
    assert set(patients.keys.to_pylist()) == _keys(1, 2, 3, 4, 5, 6)
    allowed = allowed_patient_keys(conn, H1, patients.keys)
    assert set(allowed.to_pylist()) == _keys(1, 2, 3)

    kept: dict[str, list[tuple[str, int]]] = {}
    for entity, table in tables.items():
        filtered = apply_consent(entity, table, allowed, patients, lambda file, column: "CID")
        rows = filtered.table.select(["patient_key", "source_line"]).to_pylist()
        kept[entity] = [(row["patient_key"], row["source_line"]) for row in rows]
        assert "cid" not in filtered.table.column_names
        assert filtered.filtered + filtered.table.num_rows + len(filtered.rejects) == table.num_rows
        if entity == "lab_result":
            [reject] = filtered.rejects
            assert (reject.rule, reject.field) == ("national_id_readable", "CID")
            assert reject.reason == "CID is missing or fails the Thai national ID check digit"
        else:
            assert filtered.rejects == []
    assert kept == {
        "diagnosis": [(key_of(1), 2), (key_of(2), 3), (key_of(3), 4), (key_of(1), 8)],
        "lab_result": [(key_of(3), 3), (key_of(2), 4), (key_of(1), 6)],
    }
