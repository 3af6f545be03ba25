"""DRUG_OPD, DRUG_IPD and DRUGALLERGY."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from synthetic import fmt
from synthetic import rows as shared
from synthetic.patients import CONDITIONS
from synthetic.rows import FileRows, World

WARDS = ["01001", "01002", "02001", "03001", "04001"]
# Drugs a condition brings: its sensitive classes (sensitivity_classes.csv: antipsychotics,
# antidepressants, antiretrovirals, addiction treatment) plus visible drugs by ATC prefix.
CONDITION_ATC = {
    "mental_health": ("N05B", "N05C", "N03"),
    "diabetes": ("A10",),
    "hypertension": ("C03", "C07", "C08", "C09"),
}
CONDITION_RATE = {"hiv": 0.85, "substance_use": 0.7, "mental_health": 0.6, "diabetes": 0.8,
                  "hypertension": 0.8}
ALLERGY_ATC = ("J01", "M01", "N02", "N03")


def _atc_pool(world: World, prefixes: tuple[str, ...]) -> np.ndarray:
    drugs = world.codes.drugs
    return np.array([i for i, atc in enumerate(world.codes.drug_atc)
                     if atc.startswith(prefixes) and not drugs.category[i]], np.int64)


def _condition_pool(world: World, condition: str) -> np.ndarray:
    sensitive = world.codes.drugs.in_category(condition)
    if condition in CONDITION_ATC:
        return np.union1d(sensitive, _atc_pool(world, CONDITION_ATC[condition]))
    return sensitive


def _general_pool(world: World) -> np.ndarray:
    chronic = _atc_pool(world, tuple(p for ps in CONDITION_ATC.values() for p in ps))
    return np.setdiff1d(world.codes.drugs.general(), chronic)


def _units(names: list[str]) -> list[str]:
    forms = (("tablet", "TAB"), ("capsule", "CAP"), ("injection", "VIAL"), ("inhaler", "INH"))
    return [next((u for word, u in forms if word in n.lower()), "BOT") for n in names]


def _dispensing(world: World, rng: np.random.Generator, code: np.ndarray) -> dict[str, pa.Array]:
    n = len(code)
    drugs = world.codes.drugs
    amount = rng.choice([1, 10, 14, 20, 30, 60, 90], n)
    unit_price = np.round(rng.lognormal(np.log(2.0), 1.0, n), 2)
    return {
        "DIDSTD": fmt.pick(drugs.codes, code),
        "DNAME": fmt.pick(drugs.names, code),
        "AMOUNT": fmt.ints(amount),
        "UNIT": fmt.pick(_units(drugs.names), code),
        "UNIT_PACKING": fmt.const("1", n),
        "DRUGPRICE": fmt.fixed(unit_price * amount, 2),
        "DRUGCOST": fmt.fixed(unit_price * amount * 0.6, 2),
    }


def _drug_rows(world: World, rng: np.random.Generator, patient: np.ndarray, mean: float,
               cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Parent and drug rows: some general drugs plus what the patient's conditions need."""
    parent = shared.expand(shared.child_counts(rng, len(patient), mean, cap))
    code = shared.draw(rng, _general_pool(world), len(parent))
    parents, codes = [parent], [code]
    for condition in CONDITIONS:
        pool = _condition_pool(world, condition)
        if condition not in CONDITION_RATE or not len(pool):
            continue
        gets = world.patients.conditions[condition][patient]
        gets &= rng.random(len(patient)) < CONDITION_RATE[condition]
        chosen = np.repeat(np.flatnonzero(gets), 1 + (rng.random(int(gets.sum())) < 0.5))
        parents.append(chosen)
        codes.append(shared.draw(rng, pool, len(chosen), skew=0.3))
    parent, code = np.concatenate(parents), np.concatenate(codes)
    keep = shared.unique_pairs(parent, code)
    return parent[keep], code[keep]


def drug_opd(world: World) -> FileRows:
    rng = world.rng("DRUG_OPD")
    visit, code = _drug_rows(world, rng, world.visits.patient, 1.4, 5)
    rows = shared.visit_rows(world, rng, visit)
    columns = {"CLINIC": fmt.const("00100", len(visit)), **_dispensing(world, rng, code)}
    return shared.file_rows("DRUG_OPD", rows, columns, date_field="DATE_SERV",
                            bad_code=("DIDSTD", "10101112100281700000012"))


def drug_ipd(world: World) -> FileRows:
    rng = world.rng("DRUG_IPD")
    adm = world.admissions
    admission, code = _drug_rows(world, rng, world.visits.patient[adm.visit], 3.0, 8)
    rows = shared.admission_rows(world, rng, admission)
    buddhist = world.hospitals.buddhist[rows.hosp]
    n = len(admission)
    columns = {
        "WARDSTAY": fmt.pick(WARDS, rng.integers(0, len(WARDS), n)),
        "TYPEDRUG": fmt.ints(np.where(rng.random(n) < 0.7, 1, rng.integers(2, 6, n))),
        "DATESTART": fmt.dates(adm.admit[admission].astype("datetime64[D]"), buddhist),
        "DATEFINISH": fmt.dates(adm.discharge[admission].astype("datetime64[D]"), buddhist),
        **_dispensing(world, rng, code),
    }
    return shared.file_rows("DRUG_IPD", rows, columns, date_field="DATETIME_ADMIT",
                            date_is_datetime=True, bad_code=("DIDSTD", "DRUG-PARA500"))


def drug_allergy(world: World) -> FileRows:
    """About 5% of patients are allergic; each hospital they visit records it at a first visit."""
    rng = world.rng("DRUGALLERGY")
    v, p = world.visits, world.patients
    allergic = rng.random(len(p)) < 0.05
    _, first_visit = np.unique(v.membership, return_index=True)
    first_visit = first_visit[allergic[v.patient[first_visit]]]
    is_home = world.patients.slots[v.patient[first_visit], 0] == v.membership[first_visit]
    first_visit = first_visit[is_home | (rng.random(len(first_visit)) < 0.6)]
    pool = _atc_pool(world, ALLERGY_ATC)
    pool = pool if len(pool) else world.codes.drugs.general()
    # The same allergen at every hospital: drawn per patient.
    allergen = shared.draw(rng, pool, len(p), skew=0.5)
    second = shared.draw(rng, pool, len(p), skew=0.5)
    two = rng.random(len(p)) < 0.1
    has_two = two[v.patient[first_visit]]
    visit = np.concatenate([first_visit, first_visit[has_two]])
    code = np.concatenate([allergen[v.patient[first_visit]],
                           second[v.patient[first_visit[has_two]]]])
    keep = shared.unique_pairs(visit, code)
    visit, code = visit[keep], code[keep]
    rows = shared.visit_rows(world, rng, visit)
    n = len(visit)
    rows.columns["DATERECORD"] = rows.columns.pop("DATE_SERV")
    columns = {
        "DRUGALLERGY": fmt.pick(world.codes.drugs.codes, code),
        "DNAME": fmt.pick(world.codes.drugs.names, code),
        "TYPEDX": fmt.ints(rng.integers(1, 6, n)),
        "ALEVEL": fmt.ints(rng.integers(1, 9, n)),
        "SYMPTOM": fmt.padded(rng.integers(1, 12, n), 2),
        "INFORMANT": fmt.ints(rng.integers(1, 5, n)),
        "INFORMHOSP": fmt.pick(world.hospitals.codes, rows.hosp),
    }
    return shared.file_rows("DRUGALLERGY", rows, columns, date_field="DATERECORD",
                            bad_code=("DRUGALLERGY", "PENICILLIN"))
