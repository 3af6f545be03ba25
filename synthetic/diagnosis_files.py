"""DIAGNOSIS_OPD/IPD and PROCEDURE_OPD/IPD."""

from __future__ import annotations

import numpy as np

from synthetic import fmt
from synthetic import rows as shared
from synthetic.clinical import SEXUAL, DiagnosisPools
from synthetic.rows import FileRows, World

CLINICS = ["00100", "00100", "00100", "00200", "00300", "00400", "00500", "00600"]
WARDS = ["01001", "01002", "02001", "03001", "04001"]
# Chronic sensitive conditions also appear as a comorbidity (DIAGTYPE 2) on visits about
# something else, so an encounter can be sensitive through a diagnosis that is not principal.
COMORBID_CONDITIONS = ("hiv", "mental_health", "substance_use")
COMORBID_RATE = 0.5


def _comorbidities(world: World, rng: np.random.Generator, pools: DiagnosisPools,
                   patient: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent and code rows: a diagnosis of the patient's chronic sensitive condition."""
    parents, codes = [], []
    for condition in COMORBID_CONDITIONS:
        pool = pools.by_condition[condition]
        gets = world.patients.conditions[condition][patient]
        gets = np.flatnonzero(gets & (rng.random(len(patient)) < COMORBID_RATE))
        if len(pool) and len(gets):
            parents.append(gets)
            codes.append(shared.draw(rng, pool, len(gets), skew=0.5))
    if not parents:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(parents), np.concatenate(codes)


def _with_others(world: World, rng: np.random.Generator, pools: DiagnosisPools,
                 principal: np.ndarray, patient: np.ndarray, mean_others: float,
                 cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parent, code and DIAGTYPE rows: one principal per parent, a few others and the
    patient's chronic sensitive conditions as comorbidities."""
    others = shared.expand(shared.child_counts(rng, len(principal), mean_others, cap))
    comorbid, comorbid_code = _comorbidities(world, rng, pools, patient)
    parent = np.concatenate([np.arange(len(principal)), others, comorbid])
    code = np.concatenate([principal, shared.draw(rng, pools.general, len(others)), comorbid_code])
    diag_type = np.concatenate([
        np.ones(len(principal), np.int64),
        np.where(rng.random(len(others)) < 0.7, 2, 4),
        np.full(len(comorbid), 2, np.int64),
    ])
    keep = shared.unique_pairs(parent, code)
    return parent[keep], code[keep], diag_type[keep]


def diagnosis_opd(world: World, pools: DiagnosisPools, principal: np.ndarray) -> FileRows:
    rng = world.rng("DIAGNOSIS_OPD")
    visit, code, diag_type = _with_others(world, rng, pools, principal, world.visits.patient,
                                          0.6, 2)
    rows = shared.visit_rows(world, rng, visit)
    columns = {
        "DIAGTYPE": fmt.ints(diag_type),
        "DIAGCODE": fmt.pick(world.codes.icd10.codes, code),
        "CLINIC": fmt.pick(CLINICS, rng.integers(0, len(CLINICS), len(visit))),
    }
    return shared.file_rows("DIAGNOSIS_OPD", rows, columns, date_field="DATE_SERV",
                            bad_code=("DIAGCODE", "E11.9X"))


def diagnosis_ipd(world: World, pools: DiagnosisPools, principal: np.ndarray) -> FileRows:
    rng = world.rng("DIAGNOSIS_IPD")
    adm = world.admissions
    admission, code, diag_type = _with_others(world, rng, pools, principal[adm.visit],
                                              world.visits.patient[adm.visit], 1.2, 3)
    rows = shared.admission_rows(world, rng, admission)
    columns = {
        "WARDDIAG": fmt.pick(WARDS, rng.integers(0, len(WARDS), len(admission))),
        "DIAGTYPE": fmt.ints(diag_type),
        "DIAGCODE": fmt.pick(world.codes.icd10.codes, code),
    }
    return shared.file_rows("DIAGNOSIS_IPD", rows, columns, date_field="DATETIME_ADMIT",
                            date_is_datetime=True, bad_code=("DIAGCODE", "I10.-"))


def _procedures(world: World, rng: np.random.Generator, focus: np.ndarray, female: np.ndarray,
                rate: float) -> tuple[np.ndarray, np.ndarray]:
    procedures = world.codes.procedures
    counts = (rng.random(len(focus)) < rate) * (1 + (rng.random(len(focus)) < 0.15))
    parent = shared.expand(counts)
    code = shared.draw(rng, procedures.general(), len(parent))
    sensitive = procedures.in_category("sexual_reproductive")
    reproductive = (focus[parent] == SEXUAL) & female[parent] & (rng.random(len(parent)) < 0.4)
    if len(sensitive) and reproductive.any():
        code[reproductive] = shared.draw(rng, sensitive, int(reproductive.sum()), skew=0.3)
    keep = shared.unique_pairs(parent, code)
    return parent[keep], code[keep]


def procedure_opd(world: World, focus: np.ndarray) -> FileRows:
    rng = world.rng("PROCEDURE_OPD")
    female = world.patients.sex[world.visits.patient] == 2
    visit, code = _procedures(world, rng, focus, female, 0.12)
    rows = shared.visit_rows(world, rng, visit)
    columns = {
        "CLINIC": fmt.pick(CLINICS, rng.integers(0, len(CLINICS), len(visit))),
        "PROCEDCODE": fmt.pick(world.codes.procedures.codes, code),
        "SERVICEPRICE": fmt.fixed(np.round(rng.lognormal(np.log(300), 0.7, len(visit))), 2),
    }
    return shared.file_rows("PROCEDURE_OPD", rows, columns, date_field="DATE_SERV",
                            bad_code=("PROCEDCODE", "99.99.9"))


def procedure_ipd(world: World, focus: np.ndarray) -> FileRows:
    rng = world.rng("PROCEDURE_IPD")
    adm = world.admissions
    female = world.patients.sex[world.visits.patient[adm.visit]] == 2
    admission, code = _procedures(world, rng, focus[adm.visit], female, 0.6)
    rows = shared.admission_rows(world, rng, admission)
    admit, discharge = adm.admit[admission], adm.discharge[admission]
    stay = (discharge - admit).astype(np.int64)
    begin = admit + (rng.random(len(admission)) * 0.8 * stay).astype("timedelta64[s]")
    end = np.minimum(begin + rng.integers(900, 3 * 3600, len(admission)).astype(
        "timedelta64[s]"), discharge)
    buddhist = world.hospitals.buddhist[rows.hosp]
    columns = {
        "WARDSTAY": fmt.pick(WARDS, rng.integers(0, len(WARDS), len(admission))),
        "PROCEDCODE": fmt.pick(world.codes.procedures.codes, code),
        "TIMESTART": fmt.datetimes(begin, buddhist),
        "TIMEFINISH": fmt.datetimes(end, buddhist),
        "SERVICEPRICE": fmt.fixed(np.round(rng.lognormal(np.log(2000), 0.8, len(admission))), 2),
    }
    return shared.file_rows("PROCEDURE_IPD", rows, columns, date_field="DATETIME_ADMIT",
                            date_is_datetime=True, bad_code=("PROCEDCODE", "PROC?"))
