"""One reject record and one row hash, whichever rule refused the record (docs/contract.md "Rejects").

The hash is recomputed here from the documented recipe, not with the code under test.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors.base import Location, Reject, reject_hashes
from connectors.contract import schema_for
from connectors.file43.layout import LAYOUTS
from connectors.file43.reader import read_source_file
from expectations.validate import validate_entity
from tests.support.entity_tables import EXTRACT_DATE, VALID_CID, make_row, make_table
from warehouse.pipeline.batch import BatchPatients, apply_consent

SKIPPED = {"source_file", "source_line", "extract_date", "batch_id", "cid", "patient_key"}


def documented_hash(values: list[Any]) -> str:
    """sha256 of the values as text joined by U+001F; null U+0000; ISO dates; float repr."""

    def text(value: Any) -> str:
        if value is None:
            return "\x00"
        if isinstance(value, date | datetime):
            return value.isoformat()
        if isinstance(value, float):
            return repr(value)
        return str(value)

    return hashlib.sha256("\x1f".join(text(v) for v in values).encode("utf-8")).hexdigest()


def row_values(entity: str, row: dict[str, Any]) -> list[Any]:
    """The contract columns in contract order, location and person identifier left out."""
    return [row.get(name) for name in schema_for(entity).names if name not in SKIPPED]


def contract_table(entity: str, rows: list[dict[str, Any]]) -> pa.Table:
    """As a connector yields it: `cid`, no `patient_key`."""
    return pa.Table.from_pylist(rows, schema=schema_for(entity))


def test_validation_reject_is_the_one_record_with_the_documented_hash() -> None:
    bad = make_row("lab_result", 3, lab_code="bad")
    table = make_table("lab_result", [make_row("lab_result", 2), bad])
    [reject] = validate_entity("lab_result", table, EXTRACT_DATE).rejects
    assert type(reject) is Reject
    assert reject.location == Location.in_file("FILE", 3)
    assert reject.row_hash == documented_hash(row_values("lab_result", bad))


def test_consent_reject_is_the_one_record_with_the_documented_hash() -> None:
    bad = make_row("lab_result", 3, cid="123")
    table = contract_table("lab_result", [make_row("lab_result", 2, cid=VALID_CID), bad])
    patients = BatchPatients.of([table], b"key")
    filtered = apply_consent(
        "lab_result", table, pa.array([], pa.string()), patients, lambda file, column: "CID"
    )
    [reject] = filtered.rejects
    assert type(reject) is Reject
    assert (reject.location, reject.field, reject.rule) == (
        Location.in_file("FILE", 3),
        "CID",
        "national_id_readable",
    )
    assert reject.row_hash == documented_hash(row_values("lab_result", bad))


def test_unreadable_line_is_the_one_record_with_the_documented_hash(tmp_path: Path) -> None:
    layout = LAYOUTS["PERSON"]
    good = "|".join("1" for _ in layout.fields)
    path = tmp_path / "PERSON.txt"
    path.write_text("|".join(layout.fields) + "\n" + good + "\n10669| P9 ||short\n")
    parsed = read_source_file(path, layout, encoding="utf-8", header=True)
    [reject] = parsed.rejected
    assert type(reject) is Reject
    assert (reject.location, reject.rule) == (Location.in_file("PERSON.txt", 3), "line_readable")
    # The line's fields as split, trimmed, blank as null.
    assert reject.row_hash == documented_hash(["10669", "P9", None, "short"])


def test_a_row_hashes_the_same_before_and_after_the_consent_filter() -> None:
    """cid (before) and patient_key (after) are both left out, so every rule agrees."""
    row = make_row("diagnosis", 4, cid="123")
    before = reject_hashes("diagnosis", contract_table("diagnosis", [row]), pa.array([0]))
    after = reject_hashes("diagnosis", make_table("diagnosis", [row]), pa.array([0]))
    assert before == after == [documented_hash(row_values("diagnosis", row))]


def test_location_fits_files_tables_and_fhir() -> None:
    assert Location.in_file("SERVICE.txt", 7) == Location("SERVICE.txt", line=7)
    assert Location.in_table("hosxp.ovst", "1|0012") == Location("hosxp.ovst", key="1|0012")
    assert Location.fhir("Observation", "obs-9") == Location("Observation", key="obs-9")
