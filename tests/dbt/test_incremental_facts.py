"""The facts are incremental per pending (hospital, extract date) and equal a full rebuild."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import CATEGORIES, Warehouse, new_warehouse

from tests.support.raw_fixture import (
    DAY1,
    DAY2,
    H1,
    H2,
    P_ALL,
    PARACETAMOL,
    RawRows,
    day_one,
    insert_rows,
)

TRANSFORM = ("run", "--select", "intermediate", "marts")


@pytest.fixture(scope="module")
def base_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return new_warehouse(tmp_path_factory.mktemp("dbt_incremental_base"))


@pytest.fixture
def warehouse(base_warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    """A private copy of the day-1 warehouse (same file name: views name their catalog by it)."""
    with base_warehouse.connect() as conn:
        conn.execute("CHECKPOINT")
    copy = Warehouse(path=tmp_path / base_warehouse.path.name, workdir=tmp_path)
    shutil.copy(base_warehouse.path, copy.path)
    return copy


def facts(warehouse: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    return {
        category: warehouse.rows(
            f"SELECT * FROM marts.fct_{category} ORDER BY hospital_code, record_key"
        )
        for category in CATEGORIES
    }


def assert_equals_full_rebuild(warehouse: Warehouse) -> None:
    incremental = facts(warehouse)
    warehouse.dbt(*TRANSFORM, "--full-refresh")
    assert facts(warehouse) == incremental


def dispensed_quantity(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.rows(
        "SELECT quantity, extract_date FROM marts.fct_medication_dispense"
        " WHERE hospital_code = ? AND encounter_id = 'S-COLD'",
        [H1],
    )


def resend_cold_dispense(quantity: float) -> RawRows:
    raw = RawRows(extract_date=DAY2)
    raw.add(
        "medication_dispense",
        H1,
        P_ALL,
        f"S-COLD|{PARACETAMOL}",
        encounter_id="S-COLD",
        encounter_class="OPD",
        service_date=DAY1,
        drug_code=PARACETAMOL,
        drug_name="Paracetamol 500 mg",
        quantity=quantity,
        unit="tablet",
        provider_id="D001",
    )
    return raw


def reload_day(warehouse: Warehouse, hospital: str, raw: RawRows) -> None:
    """What the loader does: delete+insert raw rows of (hospital, day), mark the pair pending."""
    with warehouse.connect() as conn:
        conn.execute("DELETE FROM ops.transform_pending")
        for entity in (*CATEGORIES, "patient"):
            conn.execute(
                f"DELETE FROM raw.{entity} WHERE hospital_code = ? AND extract_date = ?",
                [hospital, raw.extract_date],
            )
        for entity, rows in raw.rows.items():
            insert_rows(conn, f"raw.{entity}", [r for r in rows if r["hospital_code"] == hospital])
        insert_rows(
            conn,
            "ops.transform_pending",
            [{"hospital_code": hospital, "extract_date": raw.extract_date}],
        )


def test_rerun_with_same_pending_pairs_is_identical(warehouse: Warehouse) -> None:
    before = facts(warehouse)
    assert warehouse.rows("SELECT count(*) FROM ops.transform_pending") == [(3,)]
    warehouse.dbt(*TRANSFORM)
    assert facts(warehouse) == before


def test_newer_version_wins_and_replay_does_not_revert(warehouse: Warehouse) -> None:
    assert dispensed_quantity(warehouse) == [(20.0, DAY1)]
    reload_day(warehouse, H1, resend_cold_dispense(30.0))
    warehouse.dbt(*TRANSFORM)
    assert dispensed_quantity(warehouse) == [(30.0, DAY2)]

    reload_day(warehouse, H1, day_one())  # replay of the older day
    warehouse.dbt(*TRANSFORM)
    assert dispensed_quantity(warehouse) == [(30.0, DAY2)]
    assert_equals_full_rebuild(warehouse)


def test_record_gone_from_a_reloaded_day_falls_back_or_vanishes(warehouse: Warehouse) -> None:
    reload_day(warehouse, H1, resend_cold_dispense(30.0))
    warehouse.dbt(*TRANSFORM)
    reload_day(warehouse, H1, RawRows(extract_date=DAY2))  # day 2 re-sent without the row
    warehouse.dbt(*TRANSFORM)
    assert dispensed_quantity(warehouse) == [(20.0, DAY1)]  # back to the remaining version

    without_imaging = day_one()
    without_imaging.rows["imaging_report"] = [
        r for r in without_imaging.rows["imaging_report"] if r["encounter_id"] != "S-HT"
    ]
    reload_day(warehouse, H2, without_imaging)
    warehouse.dbt(*TRANSFORM)
    imaging = warehouse.rows(
        "SELECT encounter_id FROM marts.fct_imaging_report WHERE hospital_code = ? ORDER BY 1",
        [H2],
    )
    assert imaging == [("S-N2",)]
    assert_equals_full_rebuild(warehouse)


def cold_visit_tags(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.rows(
        "SELECT DISTINCT is_sensitive, sensitivity_category"
        " FROM marts.fct_medication_dispense WHERE encounter_id = 'S-COLD'"
    )


def cold_visit_made_sensitive() -> RawRows:
    """Day 2: the hospital corrects S-COLD's principal diagnosis to schizophrenia."""
    raw = RawRows(extract_date=DAY2)
    raw.add(
        "diagnosis",
        H1,
        P_ALL,
        "S-COLD|1|J00",
        encounter_id="S-COLD",
        encounter_class="OPD",
        service_date=DAY1,
        diagnosis_type="1",
        icd10_code="F200",
        provider_id="D001",
    )
    return raw


def test_late_sensitive_principal_diagnosis_tags_earlier_rows(warehouse: Warehouse) -> None:
    assert cold_visit_tags(warehouse) == [(False, None)]
    reload_day(warehouse, H1, cold_visit_made_sensitive())
    warehouse.dbt(*TRANSFORM)
    assert cold_visit_tags(warehouse) == [(True, "mental_health")]
    assert not warehouse.rows(
        "SELECT 1 FROM published.medication_dispense WHERE encounter_id = 'S-COLD'"
    )
    assert_equals_full_rebuild(warehouse)


def test_retag_reads_only_encounters_a_pending_pair_changed(warehouse: Warehouse) -> None:
    """Branch (c) of incoming_latest_versions compares only the encounters whose tag a pending
    pair changed, not every row of the fact (issue 11: a day's cost follows the day).

    The probe is a fact row made stale by hand: H2's S-HT imaging report claims an encounter
    tag ('hiv') that no diagnosis gives it. That cannot arise in operation (every fact row is
    written with its encounter's current tag, and a tag change is re-tagged by the build of
    the pair that caused it); here it marks whether a build looked at an encounter no pending
    pair touched. A build over the whole history rewrites it; the day's build leaves it and
    re-tags only S-COLD, whose diagnosis the pending H1 pair changed.
    """
    untouched = (
        "SELECT encounter_sensitivity_category FROM marts.fct_imaging_report"
        " WHERE hospital_code = ? AND encounter_id = 'S-HT'"
    )
    with warehouse.connect() as conn:
        conn.execute(
            "UPDATE marts.fct_imaging_report SET encounter_sensitivity_category = 'hiv'"
            " WHERE hospital_code = ? AND encounter_id = 'S-HT'",
            [H2],
        )
    reload_day(warehouse, H1, cold_visit_made_sensitive())
    warehouse.dbt(*TRANSFORM)
    assert cold_visit_tags(warehouse) == [(True, "mental_health")]
    assert warehouse.rows(untouched, [H2]) == [("hiv",)]

    with warehouse.connect() as conn:  # the probe undone, the rest equals a full rebuild
        conn.execute(
            "UPDATE marts.fct_imaging_report SET encounter_sensitivity_category = NULL"
            " WHERE hospital_code = ? AND encounter_id = 'S-HT'",
            [H2],
        )
    assert_equals_full_rebuild(warehouse)


def test_retag_survives_a_build_that_failed_after_the_tags(warehouse: Warehouse) -> None:
    """int_encounter__sensitivity is built, the facts are not (a failed build): the pair stays
    pending, so the next build still re-tags the encounter, though its tag no longer changes;
    once the pair is published, an encounter that lost its tag leaves the table."""
    reload_day(warehouse, H1, cold_visit_made_sensitive())
    warehouse.dbt("run", "--select", "int_encounter__sensitivity")
    assert cold_visit_tags(warehouse) == [(False, None)]
    warehouse.dbt(*TRANSFORM)
    assert cold_visit_tags(warehouse) == [(True, "mental_health")]

    reload_day(warehouse, H1, RawRows(extract_date=DAY2))  # day 2 re-sent without it
    warehouse.dbt("run", "--select", "int_encounter__sensitivity")
    warehouse.dbt(*TRANSFORM)
    assert cold_visit_tags(warehouse) == [(False, None)]
    assert_equals_full_rebuild(warehouse)
    with warehouse.connect() as conn:
        conn.execute("DELETE FROM ops.transform_pending")  # published
    warehouse.dbt("run", "--select", "int_encounter__sensitivity")
    assert not warehouse.rows(
        "SELECT 1 FROM intermediate.int_encounter__sensitivity WHERE encounter_id = 'S-COLD'"
    )
