"""Issue 9, finding 4: sensitive diagnoses leaked by inference.

For patients without the sensitive-data choice, the record and FHIR output hid F20/F32 but
showed sertraline, lithium, haloperidol and VDRL results, and an encounter was tagged only by
its principal diagnosis. Now drugs are classified by ATC class, labs by what they test,
procedures by code, and an encounter with ANY sensitive diagnosis is sensitive whole.

The expectations here come from the reference seeds through this module's own reading of
them (longest matching prefix), never from the models' SQL, and are checked on a built
warehouse (both backends, read as the administrative connection) and through the API.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_server import Server, add_physician, bearer, login
from warehouse.api.fhir import resource_id

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
REFERENCE_CODES = SEEDS.parent / "reference_codes"  # the code lists (dbt_project.yml)
ICD10_SHAPE = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]{0,4}$")
SENSITIVE_CATEGORIES = {"hiv", "mental_health", "substance_use", "sexual_reproductive"}
# Categories whose rows belong to an encounter (allergies have none and always stay visible).
ENCOUNTER_VIEWS = (
    "encounter",
    "diagnosis",
    "medication_dispense",
    "procedure",
    "immunization",
    "vital_sign",
    "lab_result",
    "imaging_report",
)


def _seed(name: str) -> list[dict[str, str]]:
    folder = SEEDS if (SEEDS / name).is_file() else REFERENCE_CODES
    with (folder / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def _classes() -> dict[str, list[tuple[str, str]]]:
    by_system: dict[str, list[tuple[str, str]]] = {}
    for row in _seed("sensitivity_classes.csv"):
        by_system.setdefault(row["code_system"], []).append(
            (row["code_prefix"], row["sensitivity_category"])
        )
    return by_system


def classify(system: str, value: str | None) -> str | None:
    """The class of a value in a code system: the longest matching prefix decides;
    None when nothing matches (unclassified)."""
    matches = [(p, c) for p, c in _classes().get(system, []) if value and value.startswith(p)]
    return max(matches, key=lambda match: len(match[0]))[1] if matches else None


def is_sensitive(system: str, value: str | None) -> bool:
    return classify(system, value) in SENSITIVE_CATEGORIES


@dataclass(frozen=True)
class Reference:
    """Reference codes by class, read from the seeds."""

    drug_class: dict[str, str | None]  # drug code -> class of its ATC code
    drug_names: dict[str, str]
    lab_class: dict[str, str | None]  # lab code -> class of what it tests for
    procedure_class: dict[str, str | None]

    @property
    def sensitive_drugs(self) -> set[str]:
        return {code for code, c in self.drug_class.items() if c in SENSITIVE_CATEGORIES}

    @property
    def sensitive_labs(self) -> set[str]:
        return {code for code, c in self.lab_class.items() if c in SENSITIVE_CATEGORIES}


@cache
def reference() -> Reference:
    drugs = _seed("drug_codes.csv")
    labs = _seed("lab_codes.csv")
    procedures = _seed("procedure_codes.csv")
    return Reference(
        drug_class={d["drug_code"]: classify("atc", d["atc_code"]) for d in drugs},
        drug_names={d["drug_code"]: d["drug_name"] for d in drugs},
        lab_class={lab["lab_code"]: classify("lab_test", lab["tests_for"]) for lab in labs},
        procedure_class={
            p["procedure_code"]: classify("icd9cm_procedure", p["procedure_code"])
            for p in procedures
        },
    )


def _drug(name_start: str) -> str:
    ref = reference()
    return next(code for code, name in ref.drug_names.items() if name.startswith(name_start))


def _lab(name_start: str) -> str:
    return next(r["lab_code"] for r in _seed("lab_codes.csv") if r["lab_name"].startswith(name_start))


# ---------------------------------------------------------------- (a) every reference code


def test_finding_4_every_reference_code_has_an_explicit_class() -> None:
    ref = reference()
    unclassified = {
        "drug": [c for c, k in ref.drug_class.items() if k is None],
        "lab": [c for c, k in ref.lab_class.items() if k is None],
        "procedure": [c for c, k in ref.procedure_class.items() if k is None],
        "icd10": [r["code"] for r in _seed("icd10_tm.csv") if classify("icd10", r["code"]) is None],
    }
    assert unclassified == {"drug": [], "lab": [], "procedure": [], "icd10": []}
    for row in _seed("sensitivity_classes.csv"):
        assert row["sensitivity_category"] in SENSITIVE_CATEGORIES | {"visible"}, row
        assert row["source"].strip() and row["description"].strip(), row


@pytest.mark.parametrize(
    ("drug", "category"),
    [
        ("Sertraline", "mental_health"),
        ("Fluoxetine", "mental_health"),
        ("Lithium", "mental_health"),
        ("Haloperidol", "mental_health"),
        ("Risperidone", "mental_health"),
        ("Olanzapine", "mental_health"),
        ("Methadone", "substance_use"),
        ("Buprenorphine", "substance_use"),
        ("Varenicline", "substance_use"),
        ("Tenofovir/emtricitabine", "hiv"),
        ("Tenofovir disoproxil", "hiv"),
        ("Efavirenz", "hiv"),
        ("Dolutegravir", "hiv"),
        ("Maraviroc", "hiv"),
        ("Mifepristone", "sexual_reproductive"),
        ("Diazepam", "visible"),
        ("Lorazepam", "visible"),
        ("Zolpidem", "visible"),
        ("Oseltamivir", "visible"),
        ("Aciclovir", "visible"),
        ("Entecavir", "visible"),
        ("Nirmatrelvir", "visible"),
        ("Paracetamol", "visible"),
        ("Amoxicillin", "visible"),
    ],
)
def test_finding_4_named_drugs(drug: str, category: str) -> None:
    assert reference().drug_class[_drug(drug)] == category


@pytest.mark.parametrize(
    ("lab", "category"),
    [
        ("VDRL", "sexual_reproductive"),
        ("RPR", "sexual_reproductive"),
        ("TPHA", "sexual_reproductive"),
        ("Chlamydia", "sexual_reproductive"),
        ("CD4 absolute", "hiv"),
        ("HIV-1 viral load", "hiv"),
        ("Anti-HIV", "hiv"),
        ("Hemoglobin", "visible"),
        ("White blood cell", "visible"),
        ("Platelet", "visible"),
        ("HBsAg", "visible"),
    ],
)
def test_finding_4_named_labs(lab: str, category: str) -> None:
    assert reference().lab_class[_lab(lab)] == category


def test_finding_4_named_procedures_and_diagnoses() -> None:
    procedures = reference().procedure_class
    assert procedures["6951"] == procedures["6901"] == "sexual_reproductive"  # termination
    assert procedures["741"] == procedures["7359"] == "visible"  # caesarean, delivery
    # Contraception, like Z30: ICD-9-CM 69.7 has no fourth digit, so the class must match the
    # three-digit code a hospital writes as well as the reference list's local 6972.
    assert classify("icd9cm_procedure", "697") == procedures["6972"] == "sexual_reproductive"
    assert classify("icd10", "O049") == "sexual_reproductive"  # medical abortion
    assert classify("icd10", "O800") == classify("icd10", "Z340") == "visible"  # routine care
    assert classify("icd10", "A539") == "sexual_reproductive"  # syphilis
    assert classify("icd10", "F329") == "mental_health"
    assert classify("icd10", "F102") == "substance_use"


def test_finding_4_model_classes_match_the_seeds(api_server: Server) -> None:
    """The warehouse's own classification of every reference code (one macro) agrees."""
    from warehouse.storage.connection import connect

    with connect(api_server.settings) as conn:
        rows = conn.execute(
            "SELECT code_system, code, code_class FROM intermediate.int_reference_code__classified"
        ).fetchall()
    ref = reference()
    expected = {
        **{("drug_24_digit", c): k for c, k in ref.drug_class.items()},
        **{("moph_lab", c): k for c, k in ref.lab_class.items()},
        **{("icd9cm_procedure", c): k for c, k in ref.procedure_class.items()},
        **{("icd10", r["code"]): classify("icd10", r["code"]) for r in _seed("icd10_tm.csv")},
    }
    assert {(system, code): cls for system, code, cls in rows} == expected


# ---------------------------------------------------------------- (b) a built warehouse


@dataclass
class Scan:
    """Unfiltered marts and the published rows of patients without the sensitive choice."""

    refusers: set[str]
    sensitive_encounters: set[tuple[str, str, str]]  # (hospital, patient, encounter)
    non_principal_only: set[tuple[str, str, str]]  # sensitive by a non-principal diagnosis only
    marts_dispenses: list[tuple[str, str, str, str, str]]  # hospital, patient, enc, code, key
    marts_labs: list[tuple[str, str, str, str, str]]
    published: dict[str, list[dict[str, Any]]]


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sql).fetchall()]


def _dicts(conn: Any, sql: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def scan(api_server: Server) -> Iterator[Scan]:
    from warehouse.storage.connection import connect

    with connect(api_server.settings) as conn:
        refusers = {
            key
            for (key,) in _rows(
                conn,
                "SELECT patient_key FROM consent.patient_consent"
                " WHERE NOT coalesce(sensitive_allowed, false)",
            )
        }
        diagnoses = _rows(
            conn,
            "SELECT hospital_code, patient_key, encounter_id, diagnosis_type, icd10_code"
            " FROM marts.fct_diagnosis WHERE encounter_id IS NOT NULL",
        )
        dispenses = _rows(
            conn,
            "SELECT hospital_code, patient_key, encounter_id, drug_code, record_key"
            " FROM marts.fct_medication_dispense",
        )
        labs = _rows(
            conn,
            "SELECT hospital_code, patient_key, encounter_id, lab_code, record_key"
            " FROM marts.fct_lab_result",
        )
        published = {
            view: [
                row
                for row in _dicts(conn, f"SELECT * FROM published.{view}")
                if row["patient_key"] in refusers
            ]
            for view in (*ENCOUNTER_VIEWS, "allergy")
        }
    sensitive: set[tuple[str, str, str]] = set()
    by_principal: set[tuple[str, str, str]] = set()
    for hospital, patient, encounter, diagnosis_type, code in diagnoses:
        if is_sensitive("icd10", code):
            sensitive.add((hospital, patient, encounter))
            if diagnosis_type == "1":
                by_principal.add((hospital, patient, encounter))
    yield Scan(refusers, sensitive, sensitive - by_principal, dispenses, labs, published)


def test_finding_4_marts_hold_what_must_be_hidden(scan: Scan) -> None:
    """Not vacuous: the unfiltered marts DO hold, for patients without the sensitive choice,
    sensitive drugs of every class named in the issue, syphilis serology, and encounters made
    sensitive only by a diagnosis that is not principal, with rows in other categories."""
    ref = reference()
    dispensed = {code for _, p, _, code, _ in scan.marts_dispenses if p in scan.refusers}
    classes = {ref.drug_class[c] for c in dispensed if c in ref.drug_class}
    assert {"mental_health", "substance_use", "hiv"} <= classes
    named = {_drug(n) for n in ("Sertraline", "Fluoxetine", "Lithium", "Haloperidol")}
    assert named & dispensed
    tested = {code for _, p, _, code, _ in scan.marts_labs if p in scan.refusers}
    assert tested & {_lab("VDRL"), _lab("RPR"), _lab("TPHA"), _lab("FTA-ABS")}
    hidden_whole = {e for e in scan.non_principal_only if e[1] in scan.refusers}
    assert hidden_whole
    assert any((h, p, e) in hidden_whole for h, p, e, _, _ in scan.marts_dispenses)


def test_finding_4_no_published_row_of_a_refuser_is_sensitive(scan: Scan) -> None:
    ref = reference()
    leaks: list[tuple[str, str]] = []
    for view, rows in scan.published.items():
        for row in rows:
            if row.get("is_sensitive"):
                leaks.append((view, "tagged sensitive"))
            key = (row["hospital_code"], row["patient_key"], row.get("encounter_id"))
            if view != "allergy" and key in scan.sensitive_encounters:
                leaks.append((view, "row of a sensitive encounter"))
            if view == "medication_dispense" and row["drug_code"] in ref.sensitive_drugs:
                leaks.append((view, ref.drug_names[row["drug_code"]]))
            if view == "lab_result" and row["lab_code"] in ref.sensitive_labs:
                leaks.append((view, row["lab_code"]))
            if view == "diagnosis" and is_sensitive("icd10", row["icd10_code"]):
                leaks.append((view, row["icd10_code"]))
            if view == "procedure" and is_sensitive("icd9cm_procedure", row["procedure_code"]):
                leaks.append((view, row["procedure_code"]))
    assert leaks == []
    # Published data of these patients is there (the scan read something), allergies to
    # sensitive drugs included: allergies always stay visible.
    assert scan.published["medication_dispense"] and scan.published["lab_result"]


def test_finding_4_allergies_stay_visible(api_server: Server) -> None:
    from warehouse.storage.connection import connect

    with connect(api_server.settings) as conn:
        marts = _rows(conn, "SELECT hospital_code, record_key FROM marts.fct_allergy")
        tagged = _rows(conn, "SELECT count(*) FROM marts.fct_allergy WHERE is_sensitive")
    assert marts and tagged == [(0,)]


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value


def _showcase_patients(scan: Scan, hospitals: list[str]) -> list[tuple[str, str]]:
    """Refusers at hospitals without per-visit consent (so the record shows that hospital's
    data): one with a sensitive drug in an encounter that is not sensitive (hidden by class
    alone), one with an encounter sensitive only through a diagnosis that is not principal."""
    ref = reference()
    by_class = {
        (h, p)
        for h, p, enc, code, _ in scan.marts_dispenses
        if code in ref.sensitive_drugs and (h, p, enc) not in scan.sensitive_encounters
    }
    whole = {
        (h, p)
        for h, p, enc, _, _ in scan.marts_dispenses
        if (h, p, enc) in scan.non_principal_only
    }
    visible = {(r["hospital_code"], r["patient_key"]) for r in scan.published["encounter"]}
    chosen = []
    for kind in (by_class, whole):
        candidates = sorted(
            (h, p) for h, p in kind & visible if h in hospitals and p in scan.refusers
        )
        assert candidates, "the fixture data lacks a refuser with this kind of sensitive rows"
        chosen.append(candidates[0])
    return chosen


@pytest.mark.parametrize("kind", [0, 1], ids=["drug_by_class", "non_principal_diagnosis"])
def test_finding_4_record_and_fhir_show_nothing_sensitive(
    api_server: Server, scan: Scan, kind: int
) -> None:
    ref = reference()
    hospital, patient = _showcase_patients(scan, api_server.cast.one_time_hospitals)[kind]
    hidden_keys = {
        key
        for h, p, enc, code, key in scan.marts_dispenses + scan.marts_labs
        if (h, p) == (hospital, patient)
        and (
            code in ref.sensitive_drugs
            or code in ref.sensitive_labs
            or (h, p, enc) in scan.sensitive_encounters
        )
    }
    shown_keys = {
        row["record_key"]
        for view in ("encounter", "medication_dispense", "lab_result")
        for row in scan.published[view]
        if (row["hospital_code"], row["patient_key"]) == (hospital, patient)
    }
    assert hidden_keys and shown_keys
    forbidden = (
        ref.sensitive_drugs
        | ref.sensitive_labs
        | {ref.drug_names[c] for c in ref.sensitive_drugs}
        | {code for code, k in ref.procedure_class.items() if k in SENSITIVE_CATEGORIES}
    )
    licence = f"4900{kind}"
    add_physician(api_server.settings, licence, [hospital])
    with api_server.client() as client:
        token = login(client, licence)
        record = client.get(f"/patients/{patient}/record", headers=bearer(token))
        everything = client.get(f"/fhir/Patient/{patient}/$everything", headers=bearer(token))
    assert record.status_code == 200 and everything.status_code == 200
    hidden_ids = {resource_id(hospital, key) for key in hidden_keys}
    for body in (record.json(), everything.json()):
        leaves = set(_leaves(body))
        assert not leaves & forbidden
        assert not {leaf for leaf in leaves if ICD10_SHAPE.match(leaf) and is_sensitive("icd10", leaf)}
        assert not leaves & (hidden_keys | hidden_ids)
    # The visible rows of the same hospital are there: the checks above read a real record.
    assert shown_keys & set(_leaves(record.json()))
    assert {resource_id(hospital, key) for key in shown_keys} & set(_leaves(everything.json()))
