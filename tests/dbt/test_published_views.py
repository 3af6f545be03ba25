"""The published views apply the patient's live consent (DESIGN §3, §6)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from conftest import CATEGORIES, Warehouse

from tests.support.raw_fixture import (
    EFAVIRENZ,
    H1,
    H2,
    H3,
    P_ALL,
    P_HOSPITAL,
    P_NETWORK,
    P_WITHDRAWN,
    PARACETAMOL,
    SERTRALINE,
    VDRL,
    bangkok_now,
)


def _hospitals(warehouse: Warehouse, relation: str, patient: str) -> set[str]:
    rows = warehouse.rows(
        f"SELECT DISTINCT hospital_code FROM {relation} WHERE patient_key = ?", [patient]
    )
    return {code for (code,) in rows}


def test_build_runs_every_model_and_test(built_warehouse: Warehouse) -> None:
    # The fixture's `dbt build` already ran the data tests; check it built every layer.
    assert built_warehouse.rows("SELECT count(*) FROM marts.dim_patient") == [(4,)]
    for category in CATEGORIES:
        (count,) = built_warehouse.rows(f"SELECT count(*) FROM marts.fct_{category}")[0]
        assert count > 0, category


@pytest.mark.parametrize("category", CATEGORIES)
def test_withdrawn_patient_is_invisible(built_warehouse: Warehouse, category: str) -> None:
    assert _hospitals(built_warehouse, f"marts.fct_{category}", P_WITHDRAWN)
    assert not _hospitals(built_warehouse, f"published.{category}", P_WITHDRAWN)


def test_withdrawn_patient_is_not_in_published_patient(built_warehouse: Warehouse) -> None:
    visible = {key for (key,) in built_warehouse.rows("SELECT patient_key FROM published.patient")}
    assert visible == {P_ALL, P_NETWORK, P_HOSPITAL}


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c != "allergy"])
def test_list_choice_limits_hospitals(built_warehouse: Warehouse, category: str) -> None:
    # P_NETWORK chose network NET01 = H1 and H2; H3 (NET02) sent data but stays hidden.
    assert _hospitals(built_warehouse, f"marts.fct_{category}", P_NETWORK) == {H1, H2, H3}
    assert _hospitals(built_warehouse, f"published.{category}", P_NETWORK) == {H1, H2}
    # P_HOSPITAL chose hospital H3 only.
    assert _hospitals(built_warehouse, f"marts.fct_{category}", P_HOSPITAL) == {H1, H3}
    assert _hospitals(built_warehouse, f"published.{category}", P_HOSPITAL) == {H3}


def test_sensitive_encounter_hides_every_category(built_warehouse: Warehouse) -> None:
    # P_ALL refused sensitive data; the S-HIV visit has principal diagnosis B24, so even its
    # paracetamol dispense, vitals and imaging are hidden, while the common cold stays visible.
    for category in [c for c in CATEGORIES if c != "allergy"]:
        tagged = built_warehouse.rows(
            f"SELECT DISTINCT is_sensitive, sensitivity_category FROM marts.fct_{category}"
            " WHERE encounter_id = 'S-HIV'"
        )
        assert tagged == [(True, "hiv")], category
        visible = built_warehouse.rows(
            f"SELECT DISTINCT encounter_id FROM published.{category} WHERE patient_key = ?",
            [P_ALL],
        )
        assert ("S-HIV",) not in visible, category
        assert ("S-COLD",) in visible, category
    dispensed = built_warehouse.rows(
        "SELECT drug_code FROM marts.fct_medication_dispense WHERE encounter_id = 'S-HIV'"
    )
    assert dispensed == [(PARACETAMOL,)]  # not sensitive by its own code


def test_allergies_stay_visible_whatever_drug_they_name(built_warehouse: Warehouse) -> None:
    # An allergy to efavirenz names an antiretroviral, yet a physician must see every allergy.
    visible = built_warehouse.rows(
        "SELECT drug_code FROM published.allergy WHERE patient_key = ? ORDER BY 1", [P_ALL]
    )
    assert visible == [(PARACETAMOL,), (EFAVIRENZ,)]
    assert built_warehouse.rows(
        "SELECT is_sensitive, code_class FROM marts.fct_allergy WHERE drug_code = ?", [EFAVIRENZ]
    ) == [(False, "hiv")]


def test_drug_and_lab_sensitive_by_class_in_a_visible_encounter(
    built_warehouse: Warehouse,
) -> None:
    # Issue 9 finding 4: sertraline (N06A) and VDRL (syphilis) reveal by class; the visit stays.
    assert built_warehouse.rows(
        "SELECT is_sensitive, sensitivity_category FROM marts.fct_medication_dispense"
        " WHERE drug_code = ?",
        [SERTRALINE],
    ) == [(True, "mental_health")]
    assert built_warehouse.rows(
        "SELECT is_sensitive, sensitivity_category FROM marts.fct_lab_result WHERE lab_code = ?",
        [VDRL],
    ) == [(True, "sexual_reproductive")]
    dispensed = built_warehouse.rows(
        "SELECT drug_code FROM published.medication_dispense WHERE encounter_id = 'S-URI'"
    )
    assert dispensed == [(PARACETAMOL,)]
    labs = built_warehouse.rows(
        "SELECT lab_code FROM published.lab_result WHERE encounter_id = 'S-URI'"
    )
    assert labs == [("0531002",)]


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c != "allergy"])
def test_non_principal_sensitive_diagnosis_hides_the_encounter(
    built_warehouse: Warehouse, category: str
) -> None:
    tagged = built_warehouse.rows(
        f"SELECT DISTINCT is_sensitive, sensitivity_category FROM marts.fct_{category}"
        " WHERE encounter_id = 'S-COMORB'"
    )
    assert tagged == [(True, "mental_health")]
    assert not built_warehouse.rows(
        f"SELECT 1 FROM published.{category} WHERE encounter_id = 'S-COMORB'"
    )


def test_every_reference_code_has_an_explicit_class(built_warehouse: Warehouse) -> None:
    unclassified = built_warehouse.rows(
        "SELECT code_system, code FROM intermediate.int_reference_code__classified"
        " WHERE code_class IS NULL"
    )
    assert unclassified == []


def test_unclassified_codes_are_reported(built_warehouse: Warehouse, tmp_path: Path) -> None:
    copy = _private_copy(built_warehouse, tmp_path)
    with copy.connect() as conn:
        conn.execute(
            "INSERT INTO raw.medication_dispense SELECT * REPLACE ('S-URI|TMT' AS record_key,"
            " '1234567' AS drug_code) FROM raw.medication_dispense"
            " WHERE encounter_id = 'S-URI' AND drug_code = ?",
            [PARACETAMOL],
        )
    copy.dbt("build", "--full-refresh", "--select", "+rpt_unclassified_codes")
    assert copy.rows(
        "SELECT hospital_code, category, code_system, unclassified_rows,"
        " distinct_unclassified_codes FROM marts.rpt_unclassified_codes"
    ) == [(H1, "medication_dispense", "drug_tmt", 1, 1)]


def test_sensitive_rows_shown_when_allowed(built_warehouse: Warehouse) -> None:
    rows = built_warehouse.rows(
        "SELECT DISTINCT is_sensitive, sensitivity_category FROM published.lab_result"
        " WHERE patient_key = ? AND encounter_id = 'S-DEP'",
        [P_NETWORK],
    )
    assert rows == [(True, "mental_health")]


def test_published_rows_carry_provenance(built_warehouse: Warehouse) -> None:
    rows = built_warehouse.rows(
        "SELECT hospital_name, per_visit_required, source_file, source_line, record_key,"
        " recorded_at, received_at FROM published.diagnosis WHERE hospital_code = ?",
        [H3],
    )
    assert rows
    for name, per_visit, source_file, line, record_key, recorded_at, received_at in rows:
        assert name == "โรงพยาบาลสาม" and per_visit is True
        assert source_file and line and record_key and recorded_at and received_at


def test_hospital_freshness(built_warehouse: Warehouse) -> None:
    rows = built_warehouse.rows(
        "SELECT hospital_code, last_extract_date, data_as_of, per_visit_consent"
        " FROM published.hospital_freshness ORDER BY 1"
    )
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (H1, dt.date(2025, 1, 10), False),
        (H2, dt.date(2025, 1, 10), False),
        (H3, dt.date(2025, 1, 10), True),
    ]
    assert all(r[2] == dt.datetime(2025, 1, 11, 2, 0) for r in rows)


def test_bmi_is_derived_from_weight_and_height(built_warehouse: Warehouse) -> None:
    rows = built_warehouse.rows(
        "SELECT value, unit, is_derived FROM marts.fct_vital_sign"
        " WHERE vital_code = 'bmi' AND encounter_id = 'S-COLD'"
    )
    assert rows == [(25.0, "kg/m2", True)]  # 64 kg / 1.60 m ^ 2


def _private_copy(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    # Same file name: DuckDB views name their catalog after the file.
    copy = Warehouse(path=tmp_path / warehouse.path.name, workdir=tmp_path)
    with warehouse.connect() as conn:
        conn.execute("CHECKPOINT")  # fold the write-ahead log into the file we copy
    shutil.copy(warehouse.path, copy.path)
    return copy


def test_withdrawal_hides_rows_at_once(built_warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse = _private_copy(built_warehouse, tmp_path)
    assert _hospitals(warehouse, "published.encounter", P_ALL) == {H1, H2}
    with warehouse.connect() as conn:
        conn.execute(
            "UPDATE consent.patient_consent SET status = 'withdrawn' WHERE patient_key = ?",
            [P_ALL],
        )
    for category in CATEGORIES:  # no rebuild: the views read the live consent table
        assert not _hospitals(warehouse, f"published.{category}", P_ALL), category
    assert not warehouse.rows("SELECT 1 FROM published.patient WHERE patient_key = ?", [P_ALL])


def test_changed_sender_list_applies_at_once(built_warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse = _private_copy(built_warehouse, tmp_path)
    with warehouse.connect() as conn:
        conn.execute(
            "INSERT INTO consent.patient_sender VALUES (?, 'network', 'NET02')", [P_NETWORK]
        )
    assert _hospitals(warehouse, "published.encounter", P_NETWORK) == {H1, H2, H3}


def test_per_visit_gate(built_warehouse: Warehouse, tmp_path: Path) -> None:
    """The gate macro, compiled through the analysis the API mirrors, on live grants."""
    warehouse = _private_copy(built_warehouse, tmp_path)
    warehouse.dbt("compile", "--select", "per_visit_visible_encounters")
    compiled = next((tmp_path / "target").rglob("per_visit_visible_encounters.sql")).read_text()
    gated = f"SELECT DISTINCT hospital_code FROM ({compiled}) WHERE patient_key = ?"

    def visible_hospitals(licence: str | None) -> set[str]:
        with warehouse.connect() as conn:
            if licence is not None:
                conn.execute(f"SET VARIABLE healthlink_physician_licence = '{licence}'")
                conn.execute(f"SET VARIABLE healthlink_physician_hospital = '{H1}'")
            return {code for (code,) in conn.execute(gated, [P_NETWORK]).fetchall()}

    # H3 requires per-visit consent, but P_NETWORK's sender list hides H3 anyway: widen it.
    with warehouse.connect() as conn:
        conn.execute(
            "INSERT INTO consent.patient_sender VALUES (?, 'network', 'NET02')", [P_NETWORK]
        )
    assert visible_hospitals(None) == {H1, H2}
    assert visible_hospitals("12345") == {H1, H2}
    now = bangkok_now()
    with warehouse.connect() as conn:
        conn.execute(
            "INSERT INTO consent.per_visit_grant (physician_licence, physician_hospital_code,"
            " patient_key, source_hospital_code, granted_at, expires_at)"
            " VALUES ('12345', ?, ?, ?, ?, ?)",
            [H1, P_NETWORK, H3, now - dt.timedelta(hours=2), now - dt.timedelta(hours=1)],
        )
    assert visible_hospitals("12345") == {H1, H2}  # expired
    with warehouse.connect() as conn:
        conn.execute(
            "INSERT INTO consent.per_visit_grant (physician_licence, physician_hospital_code,"
            " patient_key, source_hospital_code, granted_at, expires_at)"
            " VALUES ('12345', ?, ?, ?, ?, ?)",
            [H1, P_NETWORK, H3, now, now + dt.timedelta(days=1)],
        )
    assert visible_hospitals("12345") == {H1, H2, H3}
    assert visible_hospitals("99999") == {H1, H2}  # another physician


def test_build_succeeds_on_empty_raw(tmp_path: Path) -> None:
    import duckdb

    from tests.support.raw_fixture import create_tables, write_consent

    warehouse = Warehouse(path=tmp_path / "warehouse.duckdb", workdir=tmp_path)
    with duckdb.connect(str(warehouse.path)) as conn:
        create_tables(conn)
        write_consent(conn)
    warehouse.dbt("seed")
    warehouse.dbt("build")  # first build: every fact created empty
    warehouse.dbt("build")  # and the incremental path on nothing pending
    for category in CATEGORIES:
        assert warehouse.rows(f"SELECT count(*) FROM published.{category}") == [(0,)]
    assert warehouse.rows("SELECT count(*) FROM published.hospital_freshness") == [(3,)]
