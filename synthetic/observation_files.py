"""LABFU, EPI, NCDSCREEN and IMAGING."""

from __future__ import annotations

import numpy as np

from synthetic import fmt
from synthetic import rows as shared
from synthetic.rows import FileRows, World

LAB_MAX = 9999.99  # LABRESULT is decimal(6,2)
SENSITIVE_LAB_CONDITIONS = ("hiv", "sexual_reproductive")
INFANT_VACCINES = ("010", "041", "042", "043", "081", "082", "083", "091", "092", "093", "401",
                   "061", "R21", "R22", "J11")
PRESCHOOL_VACCINES = ("035", "036", "073", "J12", "092", "093")
SCHOOL_VACCINES = ("101", "311", "815")
ADULT_VACCINES = ("815", "815", "815", "C19", "101")
# (modality, body site, study code, conclusion): short report summaries, Thai or English.
IMAGING_CATALOGUE = [
    ("CR", "CHEST", "CXR-PA", "No active pulmonary infiltration."),
    ("CR", "CHEST", "CXR-PA", "ไม่พบความผิดปกติของปอดและหัวใจ"),
    ("CR", "CHEST", "CXR-PA", "Mild cardiomegaly."),
    ("CR", "CHEST", "CXR-PA", "Right lower lobe infiltration, suggestive of pneumonia."),
    ("CR", "KNEE", "XR-KNEE", "ข้อเข่าเสื่อมเล็กน้อยทั้งสองข้าง"),
    ("US", "ABDOMEN", "US-ABD", "Fatty liver, otherwise normal upper abdomen."),
    ("US", "ABDOMEN", "US-ABD", "นิ่วในถุงน้ำดี ขนาดประมาณ 1 ซม."),
    ("CT", "BRAIN", "CT-BRAIN", "No intracranial haemorrhage."),
    ("CT", "BRAIN", "CT-BRAIN", "ไม่พบเลือดออกในสมอง"),
    ("MR", "LSPINE", "MR-LS", "Disc bulging at L4-L5 without nerve root compression."),
]


def _lab_values(world: World, rng: np.random.Generator, code: np.ndarray,
                patient: np.ndarray) -> np.ndarray:
    codes, conditions = world.codes, world.patients.conditions
    low, high = codes.lab_low[code], codes.lab_high[code]
    unit = np.array(codes.lab_units, dtype=object)[code]
    n = len(code)
    hiv = conditions["hiv"][patient]
    value = np.where(low > 0, low + (high - low) * rng.normal(0.5, 0.35, n),
                     high * rng.normal(0.7, 0.3, n))
    # Tests without a range are qualitative: 1 = reactive. HIV tests react for HIV patients,
    # syphilis and STI tests for patients with a sexual or reproductive condition.
    reactive = rng.random(n) < 0.03
    for condition in SENSITIVE_LAB_CONDITIONS:
        reactive |= conditions[condition][patient] & np.isin(
            code, codes.labs.in_category(condition))
    value = np.where(np.isnan(high), reactive.astype(float), value)
    value = np.where((unit == "cells/uL") & hiv, rng.normal(450, 200, n), value)
    viral_load = np.where(rng.random(n) < 0.7, rng.integers(0, 50, n), rng.lognormal(7, 1.5, n))
    value = np.where(unit == "copies/mL", viral_load, value)
    glucose = np.isin(code, codes.labs.starting("05310", "05316"))
    value = np.where(glucose & conditions["diabetes"][patient], value * 1.6, value)
    return np.clip(value, 0, LAB_MAX)


def labfu(world: World) -> FileRows:
    rng = world.rng("LABFU")
    v, labs = world.visits, world.codes.labs
    patient = v.patient
    counts = (rng.random(len(v)) < 0.25) * shared.child_counts(rng, len(v), 2.0, 4).clip(1)
    parent = shared.expand(counts)
    code = shared.draw(rng, labs.general(), len(parent), skew=0.6)
    parents, codes = [parent], [code]
    # Tests whose class is sensitive: HIV monitoring for HIV patients, syphilis and STI tests
    # for patients with a sexual or reproductive condition.
    for condition in SENSITIVE_LAB_CONDITIONS:
        followed = world.patients.conditions[condition][patient] & (rng.random(len(v)) < 0.5)
        for lab in labs.in_category(condition):
            gets = np.flatnonzero(followed & (rng.random(len(v)) < 0.5))
            parents.append(gets)
            codes.append(np.full(len(gets), lab))
    parent, code = np.concatenate(parents), np.concatenate(codes)
    keep = shared.unique_pairs(parent, code)
    visit, code = parent[keep], code[keep]
    rows = shared.visit_rows(world, rng, visit)
    columns = {
        "LABTEST": fmt.pick(labs.codes, code),
        "LABRESULT": fmt.fixed(_lab_values(world, rng, code, rows.patient), 2),
        "LABPLACE": fmt.ints(np.where(rng.random(len(visit)) < 0.9, 1, 2)),
    }
    return shared.file_rows("LABFU", rows, columns, date_field="DATE_SERV",
                            bad_code=("LABTEST", "FBS"))


def _vaccine_pool(world: World, wanted: tuple[str, ...]) -> np.ndarray:
    codes = world.codes.vaccines.codes
    pool = np.array([codes.index(c) for c in wanted if c in codes], np.int64)
    return pool if len(pool) else np.arange(len(codes))


def epi(world: World) -> FileRows:
    rng = world.rng("EPI")
    v = world.visits
    n = len(v)
    groups = [
        (v.age < 2, 0.6, INFANT_VACCINES),
        ((v.age >= 2) & (v.age < 7), 0.3, PRESCHOOL_VACCINES),
        ((v.age >= 7) & (v.age < 15), 0.15, SCHOOL_VACCINES),
        (v.age >= 15, 0.05, ADULT_VACCINES),
    ]
    parents, codes = [], []
    for members, rate, wanted in groups:
        gets = np.flatnonzero(members & (rng.random(n) < rate))
        gets = np.repeat(gets, 1 + (rng.random(len(gets)) < 0.4))
        parents.append(gets)
        codes.append(shared.draw(rng, _vaccine_pool(world, wanted), len(gets), skew=0.2))
    parent, code = np.concatenate(parents), np.concatenate(codes)
    keep = shared.unique_pairs(parent, code)
    visit, code = parent[keep], code[keep]
    rows = shared.visit_rows(world, rng, visit)
    columns = {
        "VACCINETYPE": fmt.pick(world.codes.vaccines.codes, code),
        "VACCINEPLACE": fmt.pick(world.hospitals.codes, rows.hosp),
    }
    return shared.file_rows("EPI", rows, columns, date_field="DATE_SERV",
                            bad_code=("VACCINETYPE", "FLU"))


def ncdscreen(world: World) -> FileRows:
    rng = world.rng("NCDSCREEN")
    v, p = world.visits, world.patients
    visit = np.flatnonzero((v.age >= 18) & (rng.random(len(v)) < 0.07))
    rows = shared.visit_rows(world, rng, visit)
    patient, n = rows.patient, len(visit)
    height = p.height_cm[patient]
    weight = p.bmi[patient] * (height / 100) ** 2 * rng.normal(1, 0.02, n)
    htn = p.conditions["hypertension"][patient]
    sbp = 105 + 0.4 * v.age[visit] + 20 * htn + rng.normal(0, 12, n)
    sbp2 = sbp + rng.normal(-3, 5, n)
    sugar = rng.normal(95, 12, n) + 70 * p.conditions["diabetes"][patient]
    columns = {
        "SERVPLACE": fmt.ints(np.where(rng.random(n) < 0.8, 1, 2)),
        "SMOKE": fmt.ints(rng.integers(1, 5, n)),
        "ALCOHOL": fmt.ints(rng.integers(1, 5, n)),
        "DMFAMILY": fmt.ints(rng.choice([1, 2, 9], n)),
        "HTFAMILY": fmt.ints(rng.choice([1, 2, 9], n)),
        "WEIGHT": fmt.fixed(weight, 1),
        "HEIGHT": fmt.ints(height),
        "WAIST_CM": fmt.ints(weight * 0.55 + height * 0.2 + rng.normal(0, 4, n)),
        "SBP_1": fmt.ints(np.clip(sbp, 80, 230)),
        "DBP_1": fmt.ints(np.clip(0.62 * sbp + rng.normal(0, 6, n), 45, 140)),
        "SBP_2": fmt.ints(np.clip(sbp2, 80, 230)),
        "DBP_2": fmt.ints(np.clip(0.62 * sbp2 + rng.normal(0, 6, n), 45, 140)),
        "BSLEVEL": fmt.ints(np.clip(sugar, 50, 500)),
        "BSTEST": fmt.ints(rng.integers(1, 5, n)),
        "SCREENPLACE": fmt.pick(world.hospitals.codes, rows.hosp),
    }
    return shared.file_rows("NCDSCREEN", rows, columns, date_field="DATE_SERV",
                            vital=("WEIGHT", "850.0"), bad_code=("BSTEST", "X"))


def imaging(world: World) -> FileRows:
    rng = world.rng("IMAGING")
    v = world.visits
    visit = np.flatnonzero(rng.random(len(v)) < 0.03)
    rows = shared.visit_rows(world, rng, visit)
    hosp = rows.hosp
    study = np.arange(len(visit)) - np.searchsorted(hosp, hosp, side="left") + 1
    entry = rng.integers(0, len(IMAGING_CATALOGUE), len(visit))
    modality, site, code, conclusion = (list(col) for col in zip(*IMAGING_CATALOGUE, strict=True))
    columns = {
        "STUDYID": fmt.padded(study, 8),
        "MODALITY": fmt.pick(modality, entry),
        "BODYSITE": fmt.pick(site, entry),
        "STUDYCODE": fmt.pick(code, entry),
        "CONCLUSION": fmt.pick(conclusion, entry),
    }
    return shared.file_rows("IMAGING", rows, columns, date_field="DATE_SERV",
                            bad_code=("MODALITY", "XR"))
