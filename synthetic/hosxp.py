"""A synthetic HOSxP hospital in a MariaDB database: the schema of synthetic/hosxp_schema.py
filled with a few days of visits (vital signs, diagnoses, drugs, labs, vaccines, allergies,
emergency and clinic procedures, admissions, x-rays) of patients with valid national IDs.

Patients come from synthetic.patients (the same names, IDs and demographics as the 43-file
generator); every patient is an adult Thai card holder, so each may register consent.
Same seed, same rows. Every row of day d is stamped (ovst_seq.update_datetime,
ipt.update_datetime, patient.last_update) on day d, Bangkok wall time, as HOSxP would be.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pymysql  # type: ignore[import-untyped]
from faker import Faker

from synthetic.codes import CodeSets, load_code_sets
from synthetic.consent import COLUMNS as REGISTRATION_COLUMNS
from synthetic.hosxp_schema import create_statements
from synthetic.patients import PRENAMES, build_name_pool, build_patients

CHIEF_COMPLAINTS = (
    "ไข้ ไอ เจ็บคอ 2 วัน",
    "ปวดศีรษะ เวียนศีรษะ",
    "มาตามนัด ตรวจติดตามความดัน",
    "ปวดท้อง ถ่ายเหลว",
    "แผลที่เท้า",
    "ผื่นคันตามตัว",
)
ADDRESSES = ("ถนนมิตรภาพ", "ถนนพหลโยธิน", "ซอยวัดป่า", "ถนนเจริญกรุง")
DOCTORS = ("0001", "0002", "0003")


@dataclass
class HosxpWorld:
    """What was written, for tests and the demo (no personal data is printed from it)."""

    hospital_code: str
    days: list[date]
    patients: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        self.rows.setdefault(table, []).append(row)
        return row


def create_hosxp_database(
    connection: pymysql.connections.Connection,
    database: str,
    *,
    hospital_code: str,
    start: date,
    days: int = 3,
    patients: int = 30,
    seed: int = 13,
) -> HosxpWorld:
    """Create `database` (it must not exist), its HOSxP tables, and fill them."""
    world = build_world(hospital_code, start, days=days, patients=patients, seed=seed)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        cursor.execute(f"USE `{database}`")
        for statement in create_statements():
            cursor.execute(statement)
        for table, rows in world.rows.items():
            insert_rows(cursor, table, rows)
    connection.commit()
    return world


def insert_rows(cursor: Any, table: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    placeholders = ", ".join(["%s"] * len(columns))
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        [tuple(row[c] for c in columns) for row in rows],
    )


def grant_reader(
    connection: pymysql.connections.Connection, database: str, user: str, password: str
) -> None:
    """A login that may only read `database` (the connector never runs as root)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        cursor.execute(f"GRANT SELECT ON `{database}`.* TO %s@'%%'", (user,))
    connection.commit()


def build_world(
    hospital_code: str, start: date, *, days: int, patients: int, seed: int
) -> HosxpWorld:
    rng = np.random.default_rng([seed, 13])
    fake = Faker("th_TH")
    fake.seed_instance(seed)
    names = build_name_pool(fake, size=60)
    people, _ = build_patients(rng, names, patients, 1, start, registrable_only=True)
    codes = load_code_sets()
    world = HosxpWorld(hospital_code, [start + timedelta(days=d) for d in range(days)])
    _lookups(world, codes)
    for i in range(patients):
        male = people.sex[i] == 1
        first = (names.male if male else names.female)[int(people.first_name[i])]
        world.patients.append(
            world.add(
                "patient",
                {
                    "hn": f"{i + 1:09d}",
                    "cid": str(int(people.cid[i])),
                    "pname": PRENAMES[int(people.prename[i])],
                    "fname": first,
                    "lname": names.last[int(people.last_name[i])],
                    "sex": str(int(people.sex[i])),
                    "birthday": people.birth[i].item(),
                    "addrpart": str(rng.integers(1, 300)),
                    "moopart": str(rng.integers(1, 15)),
                    "road": ADDRESSES[i % len(ADDRESSES)],
                    "chwpart": "30",
                    "amppart": "01",
                    "tmbpart": "01",
                    "informaddr": f"{rng.integers(1, 300)} หมู่ {rng.integers(1, 15)} ตำบลในเมือง",
                    "hos_guid": _guid(rng),
                    "last_update": datetime.combine(start, time(7, 0)),
                },
            )
        )
    counters = _Counters()
    for day in world.days:
        for visitor in np.flatnonzero(rng.random(patients) < 0.5):
            _visit(
                world,
                rng,
                codes,
                counters,
                day,
                int(visitor),
                float(people.height_cm[visitor]),
                float(people.bmi[visitor]),
            )
    return world


@dataclass
class _Counters:
    visit: int = 0
    item: int = 0


def _guid(rng: np.random.Generator) -> str:
    return "{" + str(uuid.UUID(bytes=rng.bytes(16), version=4)).upper() + "}"


def _lookups(world: HosxpWorld, codes: CodeSets) -> None:
    """HOSxP's own code lists, carrying the MOPH codes the 43-file export writes."""
    for i, (code, name) in enumerate(zip(codes.drugs.codes, codes.drugs.names, strict=True)):
        world.add(
            "drugitems",
            {
                "icode": f"1{i:06d}",
                "name": f"{name} (ยาในบัญชีโรงพยาบาล)",
                "strength": "",
                "units": "หน่วย",
                "did": code,
                "istatus": "Y",
            },
        )
    for i, code in enumerate(codes.labs.codes):
        world.add(
            "lab_items",
            {
                "lab_items_code": i + 1,
                "lab_items_name": codes.labs.names[i],
                "lab_items_unit": codes.lab_units[i],
                "provis_labcode": code,
            },
        )
    for i, code in enumerate(codes.vaccines.codes):
        world.add(
            "person_vaccine",
            {
                "person_vaccine_id": i + 1,
                "vaccine_name": codes.vaccines.names[i],
                "vaccine_code": code,
                "export_vaccine_code": code,
            },
        )
    for i, code in enumerate(codes.procedures.codes):
        world.add(
            "er_oper_code",
            {"er_oper_code": i + 1, "name": codes.procedures.names[i], "icd9cm": code},
        )
    world.add(
        "xray_items",
        {
            "xray_items_code": 1,
            "xray_items_name": "Chest PA เอกซเรย์ปอด",
            "modality": "CR",
            "body_site": "ทรวงอก",
        },
    )


def _visit(
    world: HosxpWorld,
    rng: np.random.Generator,
    codes: CodeSets,
    counters: _Counters,
    day: date,
    patient: int,
    height: float,
    bmi: float,
) -> None:
    counters.visit += 1
    n = counters.visit
    hn = world.patients[patient]["hn"]
    at = datetime.combine(day, time(8, 0)) + timedelta(minutes=int(rng.integers(0, 480)))
    vn = f"{day:%y%m%d}{n:06d}"
    doctor = DOCTORS[n % len(DOCTORS)]
    admitted = n % 9 == 0
    an = f"{day:%y}{n:07d}" if admitted else None
    world.add(
        "ovst",
        {
            "vn": vn,
            "hn": hn,
            "an": an,
            "vstdate": day,
            "vsttime": at.time(),
            "doctor": doctor,
            "main_dep": "010",
            "spclty": "01",
            "pttype": "10",
            "ovstost": "1",
            "hos_guid": _guid(rng),
        },
    )
    world.add(
        "vn_stat",
        {"vn": vn, "hn": hn, "vstdate": day, "an": an, "pdx": None, "age_y": 40, "income": 150.0},
    )
    world.add("ovst_seq", {"vn": vn, "seq_id": vn, "update_datetime": at + timedelta(hours=1)})
    weight = round(bmi * (height / 100) ** 2, 1)
    world.add(
        "opdscreen",
        {
            "vn": vn,
            "hn": hn,
            "vstdate": day,
            "vsttime": at.time(),
            "cc": CHIEF_COMPLAINTS[n % len(CHIEF_COMPLAINTS)],
            "temperature": round(float(rng.normal(36.9, 0.4)), 1),
            "bps": float(rng.integers(100, 160)),
            "bpd": float(rng.integers(60, 95)),
            "pulse": float(rng.integers(60, 100)),
            "rr": 20.0,
            "bw": weight,
            "height": round(float(height), 1),
            "bmi": round(float(bmi), 1),
            "waist": None,
            "fbs": None,
            "hos_guid": _guid(rng),
        },
    )
    general = codes.icd10.general()
    for k, diagtype in enumerate(("1", "4")[: 1 + n % 2]):
        world.add(
            "ovstdiag",
            {
                "ovst_diag_id": 2 * n + k,
                "vn": vn,
                "hn": hn,
                "vstdate": day,
                "icd10": codes.icd10.codes[int(rng.choice(general))],
                "diagtype": diagtype,
                "doctor": doctor,
                "hos_guid": _guid(rng),
            },
        )
    drugs = codes.drugs.general()
    for _ in range(int(rng.integers(1, 3))):
        counters.item += 1
        icode = f"1{int(rng.choice(drugs)):06d}"
        world.add(
            "opitemrece",
            {
                "hos_guid": _guid(rng),
                "vn": vn,
                "an": None,
                "hn": hn,
                "icode": icode,
                "qty": float(rng.integers(10, 30)),
                "unitprice": 1.5,
                "rxdate": day,
                "rxtime": at.time(),
                "doctor": doctor,
            },
        )
    if n % 3 == 0:
        lab = int(rng.choice(codes.labs.general()))
        low, high = np.nan_to_num(codes.lab_low[lab]), codes.lab_high[lab]
        result = "Negative" if np.isnan(high) else f"{rng.uniform(low, high * 1.2):.1f}"
        world.add(
            "lab_head",
            {
                "lab_order_number": n,
                "vn": vn,
                "hn": hn,
                "order_date": day,
                "order_time": at.time(),
                "report_date": day,
                "report_time": (at + timedelta(hours=2)).time(),
                "confirm_report": "Y",
            },
        )
        world.add(
            "lab_order",
            {"lab_order_number": n, "lab_items_code": lab + 1, "lab_order_result": result},
        )
    if n % 5 == 0:
        world.add(
            "ovst_vaccine",
            {
                "ovst_vaccine_id": n,
                "vn": vn,
                "person_vaccine_id": 1 + n % len(codes.vaccines.codes),
                "vaccine_lotno": f"LOT{n:04d}",
                "doctor_code": doctor,
                "hospcode": world.hospital_code,
            },
        )
    if n % 4 == 0:
        world.add(
            "er_regist_oper",
            {
                "er_regist_oper_id": n,
                "vn": vn,
                "er_oper_code": 1 + n % len(codes.procedures.codes),
                "doctor": doctor,
            },
        )
    if n % 6 == 0:
        world.add(
            "doctor_operation",
            {
                "doctor_operation_id": n,
                "vn": vn,
                "icd9": codes.procedures.codes[n % len(codes.procedures.codes)],
                "doctor": doctor,
            },
        )
    if n % 7 == 0:
        world.add(
            "xray_report",
            {
                "xn": n,
                "vn": vn,
                "hn": hn,
                "xray_items_code": 1,
                "request_date": day,
                "report_text": "ปอดปกติ ไม่พบความผิดปกติ",
                "doctor_read": doctor,
            },
        )
    if n % 8 == 0:
        name = codes.drugs.names[n % len(codes.drugs.names)]
        world.add(
            "opd_allergy",
            {
                "hn": hn,
                "agent": f"{name} แพ้ยา",
                "report_date": day,
                "symptom": "ผื่นแดง คัน",
                "reporter": doctor,
                "relation_level": 2,
                "seriousness_id": 1,
                "informant": "1",
                "agent_code24": codes.drugs.codes[n % len(codes.drugs.codes)],
                "update_datetime": at + timedelta(minutes=30),
                "hos_guid": _guid(rng),
            },
        )
    if admitted:
        _admission(world, rng, codes, vn, an, hn, at, doctor, n)  # type: ignore[arg-type]


def _admission(
    world: HosxpWorld,
    rng: np.random.Generator,
    codes: CodeSets,
    vn: str,
    an: str,
    hn: str,
    at: datetime,
    doctor: str,
    n: int,
) -> None:
    world.add(
        "ipt",
        {
            "an": an,
            "hn": hn,
            "vn": vn,
            "regdate": at.date(),
            "regtime": at.time(),
            "dchdate": None,
            "dchtime": None,
            "ward": "0201",
            "dchstts": None,
            "dchtype": None,
            "update_datetime": at + timedelta(hours=2),
            "hos_guid": _guid(rng),
        },
    )
    world.add(
        "iptdiag",
        {
            "ipt_diag_id": n,
            "an": an,
            "icd10": codes.icd10.codes[int(rng.choice(codes.icd10.general()))],
            "diagtype": "1",
            "doctor": doctor,
        },
    )
    world.add(
        "iptoprt",
        {
            "iptoprt_id": n,
            "an": an,
            "icd9": codes.procedures.codes[n % len(codes.procedures.codes)],
            "oprtdate": at.date(),
            "doctor": doctor,
        },
    )
    world.add(
        "opitemrece",
        {
            "hos_guid": _guid(rng),
            "vn": None,
            "an": an,
            "hn": hn,
            "icode": f"1{int(rng.choice(codes.drugs.general())):06d}",
            "qty": 3.0,
            "unitprice": 2.0,
            "rxdate": at.date(),
            "rxtime": at.time(),
            "doctor": doctor,
        },
    )


def hosxp_registrations(world: HosxpWorld, registered: datetime, *, skip: int = 0) -> pa.Table:
    """Consent registrations (the columns of consent/registrations.csv) of the hospital's
    patients, every one active and sending from ALL hospitals; the first `skip` patients do
    not register, so a sync has rows to filter."""
    people = world.patients[skip:]
    at = registered.strftime("%Y-%m-%dT%H:%M:%S")
    verified = (registered - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    columns = {
        "cid": [p["cid"] for p in people],
        "birth_date": [p["birthday"].isoformat() for p in people],
        "registered_at": [at] * len(people),
        "status": ["active"] * len(people),
        "sender_scope": ["ALL"] * len(people),
        "sender_networks": [""] * len(people),
        "sender_hospitals": [""] * len(people),
        "sensitive_allowed": ["false"] * len(people),
        "verification_method": ["thaid"] * len(people),
        "verified_at": [verified] * len(people),
    }
    return pa.table({name: pa.array(columns[name], pa.string()) for name in REGISTRATION_COLUMNS})
