"""What the generated data says: categories, sensitive codes, cross-hospital histories."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from synthetic.codes import DEFAULT_REFERENCE_DIR
from tests.support.synthetic_dataset import Dataset

CATEGORY_FILES = {
    "drug allergies": ["DRUGALLERGY"],
    "diagnoses": ["DIAGNOSIS_OPD", "DIAGNOSIS_IPD"],
    "drug dispensing": ["DRUG_OPD", "DRUG_IPD"],
    "vaccines": ["EPI"],
    "procedures": ["PROCEDURE_OPD", "PROCEDURE_IPD"],
    "measured values": ["NCDSCREEN"],
    "labs and imaging": ["LABFU", "IMAGING"],
    "visits": ["SERVICE", "ADMISSION"],
}


def seed_codes(name: str, column: str) -> set[str]:
    with (Path(DEFAULT_REFERENCE_DIR) / name).open(encoding="utf-8") as handle:
        return {row[column] for row in csv.DictReader(handle)}


def all_records(data: Dataset, name: str) -> list[dict[str, str]]:
    return [r for h in data.hospitals for d in data.days for r in data.records(h, d, name)]


def test_every_category_file_has_rows(clean: Dataset) -> None:
    totals = clean.manifest["totals"]["rows_per_file"]
    for category, files in CATEGORY_FILES.items():
        assert all(totals[f] > 0 for f in files), category


def test_sensitive_data_is_present(clean: Dataset) -> None:
    diagnoses = {r["DIAGCODE"] for r in all_records(clean, "DIAGNOSIS_OPD")}
    assert any(c.startswith(("B20", "B21", "B22", "B23", "B24", "Z21")) for c in diagnoses)
    assert any(c.startswith("F") and not c.startswith("F1") for c in diagnoses)
    assert any(c.startswith("F1") for c in diagnoses)
    assert any(c.startswith(("A5", "A6", "O0", "Z30")) for c in diagnoses)
    drugs = {r["DNAME"] for r in all_records(clean, "DRUG_OPD")}
    assert any("Methadone" in d for d in drugs)
    assert any(d.startswith(("Tenofovir", "Efavirenz", "Dolutegravir")) for d in drugs)
    # Sensitive by class (issue 9 finding 4): antidepressants, antipsychotics, lithium.
    assert any(d.startswith(("Sertraline", "Fluoxetine")) for d in drugs)
    assert any(d.startswith(("Haloperidol", "Risperidone", "Olanzapine", "Lithium")) for d in drugs)
    labs = {r["LABTEST"] for r in all_records(clean, "LABFU")}
    assert {"0621201", "0621301"} <= labs  # CD4 and HIV viral load
    assert labs & {"0622101", "0622102", "0622103", "0622104"}  # syphilis serology
    # A sensitive diagnosis that is not principal (a comorbidity, DIAGTYPE 2).
    assert any(r["DIAGTYPE"] != "1" and r["DIAGCODE"].startswith(("B2", "F"))
               for r in all_records(clean, "DIAGNOSIS_OPD"))


def test_codes_come_from_the_reference_seeds(clean: Dataset) -> None:
    icd = seed_codes("icd10_tm.csv", "code")
    drugs = seed_codes("drug_codes.csv", "drug_code")
    assert {r["DIAGCODE"] for r in all_records(clean, "DIAGNOSIS_OPD")} <= icd
    assert {r["DIAGCODE"] for r in all_records(clean, "DIAGNOSIS_IPD")} <= icd
    assert {r["DIDSTD"] for r in all_records(clean, "DRUG_OPD")} <= drugs
    assert all(len(c) == 24 for c in drugs)
    assert {r["LABTEST"] for r in all_records(clean, "LABFU")} <= seed_codes(
        "lab_codes.csv", "lab_code")
    assert {r["VACCINETYPE"] for r in all_records(clean, "EPI")} <= seed_codes(
        "vaccine_codes.csv", "vaccine_code")
    assert {r["PROCEDCODE"] for r in all_records(clean, "PROCEDURE_OPD")} <= seed_codes(
        "procedure_codes.csv", "procedure_code")


def test_a_patient_has_rows_in_three_hospitals_with_local_ids(clean: Dataset) -> None:
    seen: dict[str, dict[str, str]] = defaultdict(dict)
    for hospital in clean.hospitals:
        for r in clean.records(hospital, clean.days[0], "SERVICE"):
            seen[r["CID"]][hospital.code] = r["PID"]
    spread = [by_hospital for by_hospital in seen.values() if len(by_hospital) >= 3]
    assert spread
    # Hospital-local ids: the same patient mostly has different PIDs at different hospitals.
    assert any(len(set(b.values())) > 1 for b in spread)


def test_vitals_are_mostly_filled_and_plausible(clean: Dataset) -> None:
    service = all_records(clean, "SERVICE")
    temps = [float(r["BTEMP"]) for r in service if r["BTEMP"]]
    assert len(temps) > 0.8 * len(service)
    assert all(34.0 <= t <= 42.0 for t in temps)
    assert sum(1 for r in service if r["SBP"]) > 0.6 * len(service)


def test_age_mix_and_prenames(clean: Dataset) -> None:
    person = clean.records(clean.hospitals[0], clean.days[0], "PERSON")
    start_year = int(clean.days[0][:4])
    buddhist = clean.hospitals[0].buddhist
    ages = [start_year - int(r["BIRTH"][:4]) + (543 if buddhist else 0) for r in person]
    minors = sum(a < 18 for a in ages) / len(ages)
    assert 0.1 < minors < 0.3
    assert {r["PRENAME"] for r in person} <= {"นาย", "นาง", "นางสาว", "ด.ช.", "ด.ญ."}
    assert all(r["NAME"] and r["LNAME"] for r in person)


def test_imaging_has_modalities_and_conclusions(clean: Dataset) -> None:
    imaging = all_records(clean, "IMAGING")
    assert {r["MODALITY"] for r in imaging} <= {"CR", "CT", "US", "MR"}
    assert all(r["CONCLUSION"] and r["STUDYID"] for r in imaging)
    keys = [(r["HOSPCODE"], r["STUDYID"]) for r in imaging]
    assert len(keys) == len(set(keys))


def test_file_keys_are_unique(clean: Dataset) -> None:
    keys = {
        "SERVICE": ("HOSPCODE", "PID", "SEQ"),
        "DIAGNOSIS_OPD": ("HOSPCODE", "PID", "SEQ", "DIAGCODE"),
        "DRUG_OPD": ("HOSPCODE", "PID", "SEQ", "DIDSTD"),
        "LABFU": ("HOSPCODE", "PID", "SEQ", "LABTEST"),
        "EPI": ("HOSPCODE", "PID", "DATE_SERV", "VACCINETYPE"),
        "NCDSCREEN": ("HOSPCODE", "PID", "DATE_SERV"),
        "ADMISSION": ("HOSPCODE", "PID", "AN"),
        "DRUGALLERGY": ("HOSPCODE", "PID", "DRUGALLERGY"),
        "DIAGNOSIS_IPD": ("HOSPCODE", "PID", "AN", "DATETIME_ADMIT", "DIAGCODE"),
        "PROCEDURE_OPD": ("HOSPCODE", "PID", "SEQ", "PROCEDCODE"),
    }
    for name, key in keys.items():
        rows = [tuple(r[k] for k in key) for r in all_records(clean, name)]
        assert len(rows) == len(set(rows)), name
