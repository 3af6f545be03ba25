"""PERSON, SERVICE and ADMISSION: who the patients are and when they came."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import fmt
from synthetic.patients import PRENAMES
from synthetic.rows import FileRows, World, admission_rows, file_rows, visit_rows

INSURANCE_TYPES = ["0100", "1100", "2100", "3100", "4100", "9100"]
CHIEF_COMPLAINTS = [
    "ไข้ ไอ มีน้ำมูก 2 วัน", "ปวดศีรษะ", "ปวดท้อง", "มาตามนัด", "ติดตามผลการรักษา",
    "เวียนศีรษะ", "เจ็บคอ", "ผื่นคัน", "ปวดหลัง", "ถ่ายเหลว", "Follow up", "Fever",
]
WARDS = ["01001", "01002", "02001", "03001", "04001"]
OCCUPATIONS = ["0000", "6111", "9211", "5220", "3231", "2221", "9999"]


def _names(world: World, patient: np.ndarray) -> tuple[pa.Array, pa.Array]:
    p, pool = world.patients, world.names
    first = p.first_name[patient]
    male = fmt.pick(pool.male, first % len(pool.male))
    female = fmt.pick(pool.female, first % len(pool.female))
    return (pc.if_else(pa.array(p.sex[patient] == 1), male, female),
            fmt.pick(pool.last, p.last_name[patient]))


def person(world: World) -> FileRows:
    rng = world.rng("PERSON")
    m, v, p = world.memberships, world.visits, world.patients
    # First day: every patient of the hospital. Later days: those who came that day.
    later = np.flatnonzero(v.day > 0)
    membership = np.concatenate([np.arange(len(m)), v.membership[later]])
    day = np.concatenate([np.zeros(len(m), np.int64), v.day[later]])
    patient, hosp = m.patient[membership], m.hosp[membership]
    start = np.datetime64(world.start, "D").astype("datetime64[s]")
    first_update = np.maximum(
        start - rng.integers(0, 365 * 86_400, len(m)).astype("timedelta64[s]"),
        p.birth[m.patient].astype("datetime64[s]"),
    )
    moment = np.concatenate([first_update, v.moment[later]])
    buddhist = world.hospitals.buddhist[hosp]
    # Traits of the person, not of the row: the same at every hospital.
    traits = np.random.default_rng([world.seed, 7]).integers(0, 1_000_000, len(p))[patient]
    age = p.age[patient]
    adult = age >= 18
    first, last = _names(world, patient)
    n = len(membership)
    has_mobile = rng.random(n) < 0.6
    columns = {
        "PID": fmt.ints(m.pid[membership]),
        "HID": fmt.ints(rng.integers(1, 99_999, n)),
        "PRENAME": fmt.pick(PRENAMES, p.prename[patient]),
        "NAME": first,
        "LNAME": last,
        "HN": fmt.ints(m.hn[membership]),
        "SEX": fmt.ints(p.sex[patient]),
        "BIRTH": fmt.dates(p.birth[patient], buddhist),
        "MSTATUS": fmt.ints(np.where(adult, 1 + traits % 4, 1)),
        "OCCUPATION_OLD": fmt.const("", n),
        "OCCUPATION_NEW": fmt.pick(OCCUPATIONS, np.where(adult, 1 + traits % 6, 0)),
        "RACE": fmt.const("099", n),
        "NATION": fmt.const("099", n),
        "RELIGION": fmt.pick(["01", "02", "03"], np.select([traits % 100 < 93, traits % 100 < 98],
                                                           [0, 1], 2)),
        "EDUCATION": fmt.padded(np.where(adult, 2 + traits % 7, np.minimum(age // 6, 2)), 2),
        "FSTATUS": fmt.ints(1 + (traits // 7) % 2),
        "FATHER": fmt.const("", n),
        "MOTHER": fmt.const("", n),
        "COUPLE": fmt.const("", n),
        "VSTATUS": fmt.ints(1 + (traits // 11) % 5),
        "MOVEIN": fmt.const("", n),
        "DISCHARGE": fmt.const("9", n),
        "DDISCHARGE": fmt.const("", n),
        "ABOGROUP": fmt.ints(1 + (traits // 13) % 4),
        "RHGROUP": fmt.ints(np.where((traits // 17) % 100 < 99, 1, 2)),
        "LABOR": fmt.const("", n),
        "PASSPORT": fmt.const("", n),
        "TYPEAREA": fmt.ints(1 + (traits // 19) % 4),
        "D_UPDATE": fmt.datetimes(moment, buddhist),
        "TELEPHONE": fmt.const("", n),
        "MOBILE": fmt.blank_where(
            pc.binary_join_element_wise("08", fmt.padded(traits * 97 % 100_000_000, 8), ""),
            ~has_mobile,
        ),
    }
    return FileRows("PERSON", hosp, day, patient, columns, date_field="BIRTH",
                    bad_code=("SEX", "X"))


def _money(rng: np.random.Generator, n: int, scale: float) -> dict[str, pa.Array]:
    price = np.round(rng.lognormal(np.log(scale), 0.8, n), 2)
    paid = np.round(price * (rng.random(n) < 0.3) * rng.random(n), 2)
    return {
        "COST": fmt.fixed(price * 0.7, 2), "PRICE": fmt.fixed(price, 2),
        "PAYPRICE": fmt.fixed(paid, 2), "ACTUALPAY": fmt.fixed(paid, 2),
    }


def service(world: World) -> FileRows:
    rng = world.rng("SERVICE")
    v, p, h = world.visits, world.patients, world.hospitals
    n = len(v)
    rows = visit_rows(world, rng, np.arange(n))
    patient = v.patient
    age = v.age
    adult = age >= 15
    htn = p.conditions["hypertension"][patient]
    fever = rng.random(n) < 0.12
    sbp = 95 + 0.5 * np.minimum(age, 80) + 18 * htn + rng.normal(0, 12, n)
    admitted = np.zeros(n, bool)
    admitted[world.admissions.visit] = True
    typein = np.where(rng.random(n) < 0.9, 1, rng.integers(2, 5, n))
    home = world.patients.slots[patient, 0]
    home_hosp = world.memberships.hosp[home]
    columns = {
        "HN": fmt.ints(world.memberships.hn[v.membership]),
        "TIME_SERV": fmt.hhmmss(v.time),
        "LOCATION": fmt.ints(np.where(rng.random(n) < 0.8, 1, 2)),
        "INTIME": fmt.ints(np.where(v.time < 16 * 3600 + 1800, 1, 2)),
        "INSTYPE": fmt.pick(INSURANCE_TYPES, rng.integers(0, len(INSURANCE_TYPES), n)),
        "INSID": fmt.const("", n),
        "MAIN": fmt.pick(h.codes, home_hosp),
        "TYPEIN": fmt.ints(typein),
        "REFERINHOSP": fmt.blank_where(fmt.pick(h.codes, home_hosp), typein != 3),
        "CAUSEIN": fmt.blank_where(fmt.ints(rng.integers(1, 6, n)), typein != 3),
        "CHIEFCOMP": fmt.pick(CHIEF_COMPLAINTS, rng.integers(0, len(CHIEF_COMPLAINTS), n)),
        "SERVPLACE": fmt.ints(np.where(rng.random(n) < 0.97, 1, 2)),
        "BTEMP": fmt.blank_where(
            fmt.fixed(np.clip(rng.normal(36.7, 0.3, n) + 1.6 * fever, 35.0, 41.5), 1),
            rng.random(n) < 0.08),
        "SBP": fmt.blank_where(fmt.ints(np.clip(sbp, 70, 230)),
                               (rng.random(n) < np.where(adult, 0.1, 0.7))),
        "DBP": fmt.blank_where(fmt.ints(np.clip(0.62 * sbp + rng.normal(0, 7, n), 40, 140)),
                               (rng.random(n) < np.where(adult, 0.1, 0.7))),
        "PR": fmt.blank_where(fmt.ints(np.clip(rng.normal(np.where(adult, 80, 100), 12), 45, 180)),
                              rng.random(n) < 0.1),
        "RR": fmt.blank_where(fmt.ints(np.clip(rng.normal(np.where(adult, 18, 24), 2), 10, 50)),
                              rng.random(n) < 0.15),
        "TYPEOUT": fmt.ints(np.where(admitted, 2, 1)),
        "REFEROUTHOSP": fmt.const("", n),
        "CAUSEOUT": fmt.const("", n),
        **_money(rng, n, 350.0),
        "HSUB": fmt.const("", n),
    }
    return FileRows("SERVICE", rows.hosp, rows.day, rows.patient, {**rows.columns, **columns},
                    date_field="DATE_SERV", vital=("BTEMP", "75.0"))


def admission(world: World) -> FileRows:
    rng = world.rng("ADMISSION")
    a, p = world.admissions, world.patients
    n = len(a)
    rows = admission_rows(world, rng, np.arange(n))
    patient = rows.patient
    height = p.height_cm[patient]
    weight = p.bmi[patient] * (height / 100) ** 2
    los_days = (a.discharge.astype("datetime64[D]") - a.admit.astype("datetime64[D]")).astype(
        np.int64)
    ward = rng.integers(0, len(WARDS), n)
    rw = rng.lognormal(0, 0.6, n)
    columns = {
        "WARDADMIT": fmt.pick(WARDS, ward),
        "INSTYPE": fmt.pick(INSURANCE_TYPES, rng.integers(0, len(INSURANCE_TYPES), n)),
        "TYPEIN": fmt.ints(np.where(rng.random(n) < 0.85, 1, rng.integers(2, 5, n))),
        "REFERINHOSP": fmt.const("", n),
        "CAUSEIN": fmt.const("", n),
        "ADMITWEIGHT": fmt.fixed(weight, 1),
        "ADMITHEIGHT": fmt.ints(height),
        "DATETIME_DISCH": fmt.datetimes(a.discharge, world.hospitals.buddhist[rows.hosp]),
        "WARDDISCH": fmt.pick(WARDS, ward),
        "DISCHSTATUS": fmt.ints(np.where(rng.random(n) < 0.8, 2, rng.integers(1, 10, n))),
        "DISCHTYPE": fmt.ints(np.where(rng.random(n) < 0.9, 1, rng.integers(2, 10, n))),
        "REFEROUTHOSP": fmt.const("", n),
        "CAUSEOUT": fmt.const("", n),
        **_money(rng, n, 9000.0),
        "DRG": fmt.padded(rng.integers(1000, 29_000, n), 5),
        "RW": fmt.fixed(rw, 4),
        "ADJRW": fmt.fixed(rw * np.clip(rng.normal(1, 0.1, n), 0.5, 1.5), 4),
        "ERROR": fmt.const("0", n),
        "WARNING": fmt.const("0", n),
        "ACTLOS": fmt.ints(los_days),
        "GROUPER_VERSION": fmt.const("6.3", n),
    }
    return file_rows("ADMISSION", rows, columns, date_field="DATETIME_ADMIT",
                     date_is_datetime=True, vital=("ADMITWEIGHT", "999.9"))
