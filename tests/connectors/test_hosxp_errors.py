"""Zero dates, unreadable fields, a schema that lacks what the contract needs, credentials."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from connectors.base import ExtractError, Location
from connectors.hosxp import HosxpConnector, HosxpSettings
from connectors.registry import parse_settings
from tests.support.hosxp_database import HOSPITAL, HosxpHospital
from tests.support.machine import START

DAY = START + timedelta(days=2)


def test_zero_dates_are_absent_not_errors(hosxp: HosxpHospital) -> None:
    patient = hosxp.world.rows["patient"][0]["hn"]
    admission = hosxp.world.rows["ipt"][0]["an"]
    allergy = hosxp.world.rows["opd_allergy"][0]
    hosxp.execute("UPDATE patient SET birthday = '0000-00-00' WHERE hn = %s", (patient,))
    hosxp.execute(
        "UPDATE ipt SET dchdate = '0000-00-00', dchtime = '00:00:00' WHERE an = %s", (admission,)
    )
    hosxp.execute(
        "UPDATE opd_allergy SET report_date = '0000-00-00' WHERE hn = %s AND agent = %s",
        (allergy["hn"], allergy["agent"]),
    )
    extract = hosxp.connector().read(HOSPITAL, None, DAY)
    assert extract.rejected == []
    patients = {row["hn"]: row for row in extract.tables["patient"].to_pylist()}
    assert patients[patient]["birth_date"] is None and patients[patient]["invalid_fields"] is None
    admissions = {row["encounter_id"]: row for row in extract.tables["encounter"].to_pylist()}
    assert admissions[admission]["end_at"] is None
    allergies = {row["record_key"]: row for row in extract.tables["allergy"].to_pylist()}
    assert allergies[f"opd_allergy|{allergy['hn']}|{allergy['agent']}"]["recorded_date"] is None


def test_a_date_that_does_not_exist_rejects_the_row_naming_table_key_and_field(
    hosxp: HosxpHospital,
) -> None:
    visit = hosxp.world.rows["ovst"][0]["vn"]
    hosxp.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
    hosxp.execute("UPDATE ovst SET vstdate = '2026-11-31' WHERE vn = %s", (visit,))
    extract = hosxp.connector().read(HOSPITAL, None, DAY)

    rejected = {(r.location.source, r.location.key): r for r in extract.rejected}
    visit_reject = rejected[("ovst", visit)]
    assert visit_reject.location == Location.in_table("ovst", visit)
    assert (visit_reject.entity, visit_reject.field, visit_reject.rule) == (
        "encounter",
        "ovst.vstdate",
        "row_readable",
    )
    assert "2026-11-31" not in visit_reject.reason and len(visit_reject.row_hash) == 64
    # every row of that visit read through ovst.vstdate is refused too, each by its own key
    diagnoses = [d["ovst_diag_id"] for d in hosxp.world.rows["ovstdiag"] if d["vn"] == visit]
    for diagnosis in diagnoses:
        assert rejected[("ovstdiag", str(diagnosis))].field == "ovst.vstdate"
    assert rejected[("opdscreen", visit)].entity == "vital_sign"
    assert visit not in extract.tables["encounter"].column("encounter_id").to_pylist()
    read_visits = len(hosxp.world.rows["ovst"]) + len(hosxp.world.rows["ipt"])
    assert extract.tables["encounter"].num_rows == read_visits - 1


def test_a_missing_table_or_column_quarantines_naming_it(hosxp: HosxpHospital) -> None:
    hosxp.execute("ALTER TABLE ovstdiag DROP COLUMN icd10")
    with pytest.raises(ExtractError) as missing_column:
        hosxp.connector().read(HOSPITAL, None, DAY)
    error = missing_column.value
    assert (error.reason_code, error.source_file, error.field) == (
        "missing_column",
        "ovstdiag",
        "icd10",
    )
    assert "diagnosis" in str(error)

    hosxp.execute("DROP TABLE lab_items")
    hosxp.execute("ALTER TABLE ovstdiag ADD COLUMN icd10 VARCHAR(9)")
    with pytest.raises(ExtractError) as missing_table:
        hosxp.connector().read(HOSPITAL, None, DAY)
    assert (missing_table.value.reason_code, missing_table.value.source_file) == (
        "missing_table",
        "lab_items",
    )


def test_a_hospital_without_the_xray_module_has_no_imaging(hosxp: HosxpHospital) -> None:
    hosxp.execute("DROP TABLE xray_report")
    extract = hosxp.connector().read(HOSPITAL, None, DAY)
    assert extract.tables["imaging_report"].num_rows == 0
    assert extract.tables["encounter"].num_rows > 0
    assert "xray_report" not in extract.source_schema


def test_errors_never_repeat_the_credentials(hosxp: HosxpHospital) -> None:
    entries = json.loads(hosxp.secrets_file.read_text(encoding="utf-8"))
    login = entries[HOSPITAL]
    entries[HOSPITAL] = {**login, "password": "not-the-password-x9"}
    hosxp.secrets_file.write_text(json.dumps(entries), encoding="utf-8")
    with pytest.raises(ExtractError) as refused:
        hosxp.connector().read(HOSPITAL, None, DAY)
    message = str(refused.value)
    assert refused.value.reason_code == "source_unreachable"
    assert "1045" in message  # MariaDB's access denied, by number
    for secret in ("not-the-password-x9", login["user"], login["host"]):
        assert secret not in message


def test_credentials_come_from_the_environment(
    hosxp: HosxpHospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = json.loads(hosxp.secrets_file.read_text(encoding="utf-8"))[HOSPITAL]
    settings = HosxpSettings(database=hosxp.database, credentials_env="HOSXP_10913")
    with pytest.raises(ExtractError) as unset:
        HosxpConnector(settings).read(HOSPITAL, None, DAY)
    assert unset.value.reason_code == "missing_credentials"
    assert "HOSXP_10913_PASSWORD" in str(unset.value)
    for part in ("host", "port", "user", "password"):
        monkeypatch.setenv(f"HOSXP_10913_{part.upper()}", str(login[part]))
    assert HosxpConnector(settings).read(HOSPITAL, None, DAY).tables["patient"].num_rows > 0


def test_the_yaml_never_holds_credentials() -> None:
    block = {"kind": "hosxp", "database": "hosxp", "credentials_env": "HOSXP_1"}
    assert isinstance(parse_settings(block), HosxpSettings)
    with pytest.raises(ValidationError):
        parse_settings({**block, "password": "secret"})
    with pytest.raises(ValidationError):
        parse_settings({"kind": "hosxp", "database": "hosxp"})  # no credentials source named
    with pytest.raises(ValidationError):
        parse_settings({**block, "secrets_file": "/etc/hosxp.json", "secrets_key": "x"})


def test_a_time_beyond_the_day_rejects_the_row(hosxp: HosxpHospital) -> None:
    visit = hosxp.world.rows["ovst"][1]["vn"]
    hosxp.execute("UPDATE ovst SET vsttime = '25:10:00' WHERE vn = %s", (visit,))
    extract = hosxp.connector().read(HOSPITAL, None, DAY)
    [reject] = [r for r in extract.rejected if r.location.source == "ovst"]
    assert (reject.location.key, reject.field) == (visit, "ovst.vsttime")
    assert "25:10" not in reject.reason
