"""The HOSxP connector against a synthetic HOSxP database in the machine's MariaDB."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from connectors.contract import ENTITIES, schema_for
from connectors.hosxp.visits import SCREEN_VITALS
from tests.support.hosxp_database import HOSPITAL, HosxpHospital
from tests.support.machine import START

EXTRACT_DATE = START + timedelta(days=2)  # the window (overlap 2) holds all three days


def by_key(table, prefix: str) -> dict[str, dict]:
    return {
        row["record_key"]: row for row in table.to_pylist() if row["record_key"].startswith(prefix)
    }


def test_every_category_maps_onto_the_contract(hosxp: HosxpHospital) -> None:
    extract = hosxp.connector().read(HOSPITAL, None, EXTRACT_DATE)
    rows = hosxp.world.rows
    assert extract.rejected == []
    for entity in ENTITIES:
        table = extract.tables[entity]
        assert table.schema == schema_for(entity)
        assert table.num_rows > 0, entity
        assert set(table.column("hospital_code").to_pylist()) == {HOSPITAL}
        assert set(table.column("batch_id").to_pylist()) == {extract.batch_id}
        assert table.column("invalid_fields").null_count == table.num_rows
    tables = extract.tables
    assert tables["patient"].num_rows == len(rows["patient"])  # every patient visited or changed
    assert tables["encounter"].num_rows == len(rows["ovst"]) + len(rows["ipt"])
    assert set(tables["encounter"].column("encounter_class").to_pylist()) == {"OPD", "IPD"}
    sources = {
        entity: set(tables[entity].column("source_file").to_pylist())
        for entity in ("diagnosis", "procedure", "medication_dispense")
    }
    assert sources["diagnosis"] == {"ovstdiag", "iptdiag"}
    assert sources["procedure"] == {"er_regist_oper", "doctor_operation", "iptoprt"}
    assert tables["diagnosis"].num_rows == len(rows["ovstdiag"]) + len(rows["iptdiag"])
    assert tables["procedure"].num_rows == sum(
        len(rows[t]) for t in ("er_regist_oper", "doctor_operation", "iptoprt")
    )
    measured = sum(row[column] is not None for row in rows["opdscreen"] for column in SCREEN_VITALS)
    assert tables["vital_sign"].num_rows == measured
    assert tables["lab_result"].num_rows == len(rows["lab_order"])
    assert tables["immunization"].num_rows == len(rows["ovst_vaccine"])
    assert tables["allergy"].num_rows == len(rows["opd_allergy"])
    assert tables["imaging_report"].num_rows == len(rows["xray_report"])


def test_a_visit_and_its_items_map_field_by_field(hosxp: HosxpHospital) -> None:
    extract = hosxp.connector().read(HOSPITAL, None, EXTRACT_DATE)
    rows = hosxp.world.rows
    patient = {p["hn"]: p for p in rows["patient"]}
    visit = rows["ovst"][0]
    encounter = by_key(extract.tables["encounter"], "ovst|")[f"ovst|{visit['vn']}"]
    screen = next(s for s in rows["opdscreen"] if s["vn"] == visit["vn"])
    seq = next(s for s in rows["ovst_seq"] if s["vn"] == visit["vn"])
    assert encounter["cid"] == patient[visit["hn"]]["cid"]
    assert encounter["pid"] == visit["hn"]
    assert encounter["encounter_id"] == visit["vn"]
    assert encounter["service_date"] == visit["vstdate"]
    assert encounter["start_at"] == datetime.combine(visit["vstdate"], visit["vsttime"])
    assert encounter["location"] == visit["main_dep"]
    assert encounter["chief_complaint"] == screen["cc"]
    assert encounter["recorded_at"] == seq["update_datetime"]

    signs = by_key(extract.tables["vital_sign"], f"opdscreen|{visit['vn']}|")
    assert signs[f"opdscreen|{visit['vn']}|body_temperature"]["value"] == screen["temperature"]
    assert signs[f"opdscreen|{visit['vn']}|systolic_bp"]["unit"] == "mm[Hg]"

    drugs = {d["icode"]: d for d in rows["drugitems"]}
    for item in rows["opitemrece"]:
        dispensed = by_key(extract.tables["medication_dispense"], "opitemrece|")[
            f"opitemrece|{item['hos_guid']}"
        ]
        assert dispensed["drug_code"] == drugs[item["icode"]]["did"]
        assert len(dispensed["drug_code"]) == 24
        assert dispensed["quantity"] == item["qty"]
        if item["an"]:
            assert (dispensed["encounter_class"], dispensed["encounter_id"]) == ("IPD", item["an"])
        else:
            assert (dispensed["encounter_class"], dispensed["encounter_id"]) == ("OPD", item["vn"])

    admission = rows["ipt"][0]
    ipd = by_key(extract.tables["encounter"], "ipt|")[f"ipt|{admission['an']}"]
    assert (ipd["encounter_class"], ipd["admission_id"], ipd["location"]) == (
        "IPD",
        admission["an"],
        admission["ward"],
    )
    vaccines = {v["person_vaccine_id"]: v for v in rows["person_vaccine"]}
    given = rows["ovst_vaccine"][0]
    immunization = by_key(extract.tables["immunization"], "ovst_vaccine|")[
        f"ovst_vaccine|{given['ovst_vaccine_id']}"
    ]
    assert (
        immunization["vaccine_code"] == vaccines[given["person_vaccine_id"]]["export_vaccine_code"]
    )
    labs = {item["lab_items_code"]: item for item in rows["lab_items"]}
    order = rows["lab_order"][0]
    result = by_key(extract.tables["lab_result"], "lab_order|")[
        f"lab_order|{order['lab_order_number']}|{order['lab_items_code']}"
    ]
    assert result["lab_code"] == labs[order["lab_items_code"]]["provis_labcode"]


def test_thai_text_survives_utf8mb4(hosxp: HosxpHospital) -> None:
    extract = hosxp.connector().read(HOSPITAL, None, EXTRACT_DATE)
    read = {row["hn"]: row for row in extract.tables["patient"].to_pylist()}
    for patient in hosxp.world.rows["patient"]:
        row = read[patient["hn"]]
        assert (row["prename"], row["first_name"], row["last_name"]) == (
            patient["pname"],
            patient["fname"],
            patient["lname"],
        )
        assert any("\u0e00" <= ch <= "\u0e7f" for ch in row["first_name"])
    allergy = extract.tables["allergy"].to_pylist()[0]
    assert allergy["drug_name"].endswith("แพ้ยา") and allergy["symptom"] == "ผื่นแดง คัน"
    assert (
        "ยาในบัญชีโรงพยาบาล" in extract.tables["medication_dispense"].column("drug_name")[0].as_py()
    )
    assert (
        extract.tables["imaging_report"].column("conclusion")[0].as_py() == "ปอดปกติ ไม่พบความผิดปกติ"
    )


def test_the_same_window_gives_the_same_batch_id(hosxp: HosxpHospital) -> None:
    first = hosxp.connector().read(HOSPITAL, None, EXTRACT_DATE)
    again = hosxp.connector().read(HOSPITAL, None, EXTRACT_DATE)
    assert again.batch_id == first.batch_id
    assert [f.sha256 for f in again.files] == [f.sha256 for f in first.files]
    for entity in ENTITIES:
        assert again.tables[entity].equals(first.tables[entity])

    visit = hosxp.world.rows["opdscreen"][0]["vn"]
    hosxp.execute("UPDATE opdscreen SET temperature = temperature + 0.1 WHERE vn = %s", (visit,))
    changed = hosxp.connector().read(HOSPITAL, None, EXTRACT_DATE)
    assert changed.batch_id != first.batch_id
    moved = {
        f.name for f, g in zip(changed.files, first.files, strict=True) if f.sha256 != g.sha256
    }
    assert moved == {"opdscreen"}


def test_rejects_and_validation_name_hosxp_columns(hosxp: HosxpHospital) -> None:
    connector = hosxp.connector()
    assert connector.source_field("ovstdiag", "icd10_code") == "ovstdiag.icd10"
    assert connector.source_field("opitemrece", "drug_code") == "drugitems.did"
    assert connector.source_field("patient", "birth_date") == "patient.birthday"
    extract = connector.read(HOSPITAL, None, EXTRACT_DATE)
    assert extract.window == connector.window(EXTRACT_DATE)
    assert "ovst" in extract.source_schema and "vstdate" in extract.source_schema["ovst"]


def test_a_patients_full_history_is_read_whatever_its_dates(hosxp: HosxpHospital) -> None:
    rows = hosxp.world.rows
    asked = [p for p in hosxp.world.patients if any(v["hn"] == p["hn"] for v in rows["ovst"])][:2]
    hns = {p["hn"] for p in asked}
    later = EXTRACT_DATE + timedelta(days=30)  # no window of that day holds these visits
    assert hosxp.connector().read(HOSPITAL, None, later).tables["encounter"].num_rows == 0

    history = hosxp.connector().read_history(HOSPITAL, [p["cid"] for p in asked], later)
    assert history.window is None and history.rejected == []
    assert set(history.tables["patient"].column("hn").to_pylist()) == hns
    visits = {v["vn"] for v in rows["ovst"] if v["hn"] in hns}
    admissions = {a["an"] for a in rows["ipt"] if a["hn"] in hns}
    assert (
        set(history.tables["encounter"].column("encounter_id").to_pylist()) == visits | admissions
    )
    diagnosed = [d for d in rows["ovstdiag"] if d["vn"] in visits]
    assert history.tables["diagnosis"].num_rows == len(diagnosed) + sum(
        d["an"] in admissions for d in rows["iptdiag"]
    )
    for table in history.tables.values():
        assert set(table.column("pid").to_pylist()) <= hns
        assert set(table.column("extract_date").to_pylist()) <= {later}
    with pytest.raises(ValueError):
        hosxp.connector().read_history(HOSPITAL, [], later)
