"""43-file and HOSxP rows say no code system (contract code_system null): they are read by
their code's shape as before issue 13, never crosswalked, never tagged 'unclassified'."""

from __future__ import annotations

from conftest import Warehouse

CODED_FACTS = (
    "fct_diagnosis",
    "fct_medication_dispense",
    "fct_lab_result",
    "fct_procedure",
    "fct_allergy",
)


def test_native_rows_keep_their_shape_systems_and_tags(built_warehouse: Warehouse) -> None:
    for fact in CODED_FACTS:
        tags = built_warehouse.rows(
            f"SELECT DISTINCT coalesce(sensitivity_category, '-') FROM marts.{fact}"
        )
        assert ("unclassified",) not in tags, fact
    systems = built_warehouse.rows(
        "SELECT DISTINCT code_system, is_native_system FROM marts.rpt_unmapped_codes ORDER BY 1"
    )
    assert systems == [
        ("drug_24_digit", True),
        ("icd10", True),
        ("icd9cm_procedure", True),
        ("moph_lab", True),
        ("moph_vaccine", True),  # vaccines are counted too, in their native system
    ]
    # The fixture's B24 visit is classified as before (tests/support/raw_fixture.py).
    assert built_warehouse.rows(
        "SELECT DISTINCT code_class FROM marts.fct_diagnosis WHERE icd10_code = 'B24'"
    ) == [("hiv",)]
