"""Reading well-formed 43-file extracts into the canonical contract."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from connectors.contract import ENTITIES, schema_for
from connectors.file43 import File43Connector, File43Settings
from tests.support.file43_extracts import CID_A, CID_B, EXTRACT_DATE, HOSPITAL, write_extract


def test_every_entity_matches_the_contract(read_extract):
    extract = read_extract()
    assert set(extract.tables) == set(ENTITIES)
    for entity, table in extract.tables.items():
        assert table.schema.equals(schema_for(entity)), entity
        assert table.num_rows > 0, entity
    assert extract.rejected == []
    assert extract.hospital_code == HOSPITAL and extract.extract_date == EXTRACT_DATE


def test_entities_without_rows_still_get_an_empty_table(read_extract):
    extract = read_extract({"IMAGING": []})
    assert extract.tables["imaging_report"].num_rows == 0
    assert extract.tables["imaging_report"].schema.equals(schema_for("imaging_report"))


def test_patient_columns(read_extract):
    extract = read_extract(
        {
            "PERSON": [
                {},
                {"PID": "P2", "CID": CID_B, "SEX": "2"},
                {"PID": "P3", "SEX": "9", "NAME": "  ", "BIRTH": ""},
            ]
        }
    )
    rows = extract.tables["patient"].to_pylist()
    assert [r["sex"] for r in rows] == ["male", "female", "unknown"]
    first = rows[0]
    assert first["cid"] == CID_A and first["pid"] == "P1" and first["hn"] == "HN1"
    assert first["first_name"] == "Somchai" and first["last_name"] == "Testdata"
    assert first["birth_date"] == dt.date(1980, 1, 15)
    assert first["recorded_at"] == dt.datetime(2024, 3, 1, 8, 30)
    assert first["record_key"] == "PERSON|P1"
    assert first["hospital_code"] == HOSPITAL and first["source_file"] == "PERSON.txt"
    assert first["extract_date"] == EXTRACT_DATE
    # blank (whitespace-only) and absent values are null, not invalid
    assert rows[2]["first_name"] is None and rows[2]["birth_date"] is None
    assert rows[2]["invalid_fields"] is None


def test_encounters_from_service_and_admission(read_extract):
    extract = read_extract({"SERVICE": [{"TIME_SERV": ""}], "ADMISSION": [{}]})
    opd, ipd = extract.tables["encounter"].to_pylist()
    assert (opd["encounter_class"], opd["encounter_id"], opd["admission_id"]) == ("OPD", "S1", None)
    assert opd["service_date"] == dt.date(2024, 3, 1)
    assert opd["start_at"] == dt.datetime(2024, 3, 1)  # no TIME_SERV: midnight
    assert opd["chief_complaint"] == "fever" and opd["record_key"] == "OPD|P1|S1"
    assert (ipd["encounter_class"], ipd["encounter_id"], ipd["admission_id"]) == ("IPD", "A1", "A1")
    assert ipd["service_date"] == dt.date(2024, 2, 28)
    assert ipd["start_at"] == dt.datetime(2024, 2, 28, 14, 0)
    assert ipd["end_at"] == dt.datetime(2024, 3, 1, 11, 0)
    assert ipd["location"] == "W1" and ipd["record_key"] == "IPD|P1|A1"


def test_service_time_is_combined_with_the_date(read_extract):
    extract = read_extract({"SERVICE": [{"TIME_SERV": "143015"}, {"TIME_SERV": "0930"}]})
    starts = extract.tables["encounter"].column("start_at").to_pylist()
    assert starts[:2] == [dt.datetime(2024, 3, 1, 14, 30, 15), dt.datetime(2024, 3, 1, 9, 30)]


def test_ipd_rows_use_the_admission_number_and_admit_date(read_extract):
    extract = read_extract({"DRUG_IPD": [{}, {"DATESTART": ""}]})
    diagnosis = extract.tables["diagnosis"].to_pylist()
    ipd = next(r for r in diagnosis if r["encounter_class"] == "IPD")
    assert ipd["encounter_id"] == "A1" and ipd["service_date"] == dt.date(2024, 2, 28)
    assert ipd["record_key"] == "IPD|P1|A1|20240228140000|J189"
    drugs = [
        r
        for r in extract.tables["medication_dispense"].to_pylist()
        if r["encounter_class"] == "IPD"
    ]
    # DATESTART when present, otherwise the date of DATETIME_ADMIT
    assert [r["service_date"] for r in drugs] == [dt.date(2024, 2, 29), dt.date(2024, 2, 28)]
    assert drugs[0]["quantity"] == 2.0 and drugs[0]["unit"] == "vial"
    procedures = extract.tables["procedure"].to_pylist()
    assert {r["encounter_class"] for r in procedures} == {"OPD", "IPD"}


def test_lab_text_results_are_kept_and_not_invalid(read_extract):
    extract = read_extract({"LABFU": [{}, {"LABTEST": "0000002", "LABRESULT": "Positive"}]})
    numeric, text = extract.tables["lab_result"].to_pylist()
    assert (numeric["result_value"], numeric["result_text"]) == (5.4, None)
    assert (text["result_value"], text["result_text"]) == (None, "Positive")
    assert text["invalid_fields"] is None


def test_allergy_immunization_imaging(read_extract):
    extract = read_extract()
    allergy = extract.tables["allergy"].to_pylist()[0]
    assert allergy["recorded_date"] == dt.date(2023, 5, 10)
    assert allergy["drug_name"] == "Amoxicillin" and allergy["severity"] == "3"
    assert allergy["record_key"] == "DRUGALLERGY|P1|100000000000000000000003"
    vaccine = extract.tables["immunization"].to_pylist()[0]
    assert vaccine["vaccine_code"] == "010" and vaccine["record_key"] == "EPI|P1|20240301|010"
    imaging = extract.tables["imaging_report"].to_pylist()[0]
    assert (imaging["study_id"], imaging["modality"], imaging["conclusion"]) == (
        "ST1",
        "CR",
        "no active disease",
    )


def test_vitals_are_reshaped_long_and_blanks_give_no_row(read_extract):
    extract = read_extract(
        {
            "SERVICE": [{}, {"SEQ": "S2", "BTEMP": "", "PR": " ", "RR": "", "SBP": "x1"}],
            "NCDSCREEN": [{"HEIGHT": "", "BSLEVEL": ""}],
        }
    )
    vitals = extract.tables["vital_sign"]
    assert vitals.schema.equals(schema_for("vital_sign"))
    rows = {(r["source_file"], r["encounter_id"], r["vital_code"]): r for r in vitals.to_pylist()}
    service_s1 = {code for (f, seq, code) in rows if f == "SERVICE.txt" and seq == "S1"}
    assert service_s1 == {
        "body_temperature",
        "systolic_bp",
        "diastolic_bp",
        "pulse_rate",
        "respiratory_rate",
    }
    service_s2 = {code for (f, seq, code) in rows if f == "SERVICE.txt" and seq == "S2"}
    assert service_s2 == {"systolic_bp", "diastolic_bp"}
    bad = rows[("SERVICE.txt", "S2", "systolic_bp")]
    assert bad["value"] is None and bad["invalid_fields"] == "value" and bad["source_line"] == 3
    temp = rows[("SERVICE.txt", "S1", "body_temperature")]
    assert (temp["value"], temp["unit"]) == (37.5, "Cel")
    assert temp["record_key"] == "SERVICE|P1|S1|body_temperature"
    ncd = {code: r for (f, _, code), r in rows.items() if f == "NCDSCREEN.txt"}
    assert set(ncd) == {"body_weight", "waist_circumference", "systolic_bp", "diastolic_bp"}
    assert (ncd["body_weight"]["value"], ncd["body_weight"]["unit"]) == (65.5, "kg")


def test_headerless_files_read_the_same(read_extract, tmp_path):
    with_header = read_extract({"DIAGNOSIS_OPD": [{}, {"DIAGCODE": "E119"}]}, header=True)
    without = read_extract({"DIAGNOSIS_OPD": [{}, {"DIAGCODE": "E119"}]}, header=False)
    a = with_header.tables["diagnosis"].drop_columns(["source_line", "batch_id"])
    b = without.tables["diagnosis"].drop_columns(["source_line", "batch_id"])
    assert a.equals(b)
    # line 1 is the header when there is one
    assert with_header.tables["diagnosis"].column("source_line").to_pylist() == [2, 3, 2]
    assert without.tables["diagnosis"].column("source_line").to_pylist() == [1, 2, 1]


def test_source_lines_are_exact_with_blank_and_bad_lines(read_extract):
    extract = read_extract(
        {
            "DIAGNOSIS_OPD": [
                {"DIAGCODE": "A01"},  # line 2
                "",  # line 3: blank, ignored
                {"DIAGCODE": "A02"},  # line 4
                "99999|P1|S1",  # line 5: too few fields -> rejected
                {"DIAGCODE": "A03"},  # line 6
                {"DIAGCODE": "A04"},  # line 7
                "",
                "",  # trailing blank lines
            ]
        }
    )
    opd = [r for r in extract.tables["diagnosis"].to_pylist() if r["encounter_class"] == "OPD"]
    assert [(r["icd10_code"], r["source_line"]) for r in opd] == [
        ("A01", 2),
        ("A02", 4),
        ("A03", 6),
        ("A04", 7),
    ]
    [rejected] = extract.rejected
    assert (rejected.location.source, rejected.location.line, rejected.entity) == (
        "DIAGNOSIS_OPD.txt",
        5,
        "diagnosis",
    )
    assert rejected.field == "DATE_SERV" and rejected.reason.startswith("wrong_field_count")
    assert len(rejected.row_hash) == 64


def test_crlf_and_too_many_fields(tmp_path):
    folder = write_extract(tmp_path)
    path = folder / "LABFU.txt"
    lines = path.read_text().splitlines()
    lines += [lines[1] + "|extra", lines[1]]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    extract = File43Connector(File43Settings(path=tmp_path)).read(HOSPITAL, folder, EXTRACT_DATE)
    labs = extract.tables["lab_result"]
    assert labs.column("source_line").to_pylist() == [2, 4]
    assert labs.column("cid").to_pylist() == [CID_A, CID_A]  # no trailing \r
    assert [(r.location.line, r.field) for r in extract.rejected] == [(3, None)]


def test_admission_older_spec_without_header(tmp_path):
    from connectors.file43.layout import LAYOUTS
    from tests.support.file43_extracts import write_file

    folder = write_extract(tmp_path, header=False)
    old_spec = LAYOUTS["ADMISSION"].older_specs[0]
    assert len(old_spec) == 25
    write_file(folder, "ADMISSION", [{}, {"AN": "A2"}], header=False, fields=old_spec)
    settings = File43Settings(path=tmp_path, header=False)
    extract = File43Connector(settings).read(HOSPITAL, folder, EXTRACT_DATE)
    ipd = [r for r in extract.tables["encounter"].to_pylist() if r["encounter_class"] == "IPD"]
    assert [r["encounter_id"] for r in ipd] == ["A1", "A2"]
    assert ipd[0]["cid"] == CID_A and ipd[0]["end_at"] == dt.datetime(2024, 3, 1, 11, 0)


def test_header_may_order_columns_freely_and_add_unknown_ones(tmp_path):
    from connectors.file43.layout import LAYOUTS
    from tests.support.file43_extracts import write_file

    folder = write_extract(tmp_path)
    fields = (*tuple(reversed(LAYOUTS["EPI"].fields)), "EXTRA_COLUMN")
    write_file(folder, "EPI", [{"VACCINETYPE": "041"}], fields=fields)
    extract = File43Connector(File43Settings(path=tmp_path)).read(HOSPITAL, folder, EXTRACT_DATE)
    assert extract.tables["immunization"].column("vaccine_code").to_pylist() == ["041"]


def test_batch_id_is_stable_and_follows_content(tmp_path):
    folder = write_extract(tmp_path)
    connector = File43Connector(File43Settings(path=tmp_path))
    first = connector.read(HOSPITAL, folder, EXTRACT_DATE)
    again = connector.read(HOSPITAL, folder, EXTRACT_DATE)
    assert first.batch_id == again.batch_id and len(first.batch_id) == 16
    assert first.tables["patient"].column("batch_id").to_pylist() == [first.batch_id]
    assert [f.name for f in first.files] == [f.name for f in connector.discover(folder)]
    assert first.files == connector.discover(folder)
    assert all(len(f.sha256) == 64 and f.size_bytes > 0 for f in first.files)
    with (folder / "EPI.txt").open("a") as handle:
        handle.write("\n")  # even a trailing blank line is new content
    changed = connector.read(HOSPITAL, folder, EXTRACT_DATE)
    assert changed.batch_id != first.batch_id


def test_source_field_names_the_source_column():
    connector = File43Connector(File43Settings(path="."))
    assert connector.source_field("SERVICE.txt", "service_date") == "DATE_SERV"
    assert connector.source_field("ADMISSION.txt", "start_at") == "DATETIME_ADMIT"
    assert connector.source_field("DRUG_IPD.txt", "service_date") == "DATESTART"
    assert connector.source_field("LABFU.txt", "result_value") == "LABRESULT"
    assert connector.source_field("PERSON.txt", "birth_date") == "BIRTH"
    assert connector.source_field("DRUGALLERGY", "recorded_at") == "D_UPDATE"
    assert connector.source_field("NCDSCREEN.txt", "value", vital_code="systolic_bp") == "SBP_1"
    assert connector.source_field("SERVICE.txt", "value", vital_code="pulse_rate") == "PR"
    with pytest.raises(ValueError):
        connector.source_field("PERSON.txt", "icd10_code")
    with pytest.raises(ValueError):
        connector.source_field("NOSUCHFILE.txt", "cid")


def test_tables_are_arrow_tables(read_extract):
    assert all(isinstance(t, pa.Table) for t in read_extract().tables.values())
