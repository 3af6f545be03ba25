"""raw.row_hash of a row that names no code system is what it was before the contract had
`code_system`: re-sent 43-file and HOSxP rows keep their first received_at."""

from __future__ import annotations

from tests.support.entity_tables import make_row, make_table
from warehouse.pipeline.content_hash import with_content_hash


def test_a_null_code_system_leaves_the_hash_as_it_was() -> None:
    table = make_table("diagnosis", [make_row("diagnosis", 2), make_row("diagnosis", 3)])
    before_the_column = table.drop_columns(["code_system"])
    assert (
        with_content_hash(table).column("row_hash").to_pylist()
        == with_content_hash(before_the_column).column("row_hash").to_pylist()
    )


def test_a_named_code_system_is_part_of_the_content() -> None:
    native = make_table("diagnosis", [make_row("diagnosis", 2, icd10_code="86406008")])
    snomed = make_table(
        "diagnosis", [make_row("diagnosis", 2, icd10_code="86406008", code_system="snomed")]
    )
    assert with_content_hash(native).column("row_hash") != with_content_hash(snomed).column(
        "row_hash"
    )
