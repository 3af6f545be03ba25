"""A synthetic HOSxP hospital in a MariaDB database: the schema of synthetic/hosxp_schema.py
filled with a few days of visits (vital signs, diagnoses, drugs, labs, vaccines, allergies,
emergency and clinic procedures, admissions, x-rays) of patients with valid national IDs.

Patients come from synthetic.patients (the same names, IDs and demographics as the 43-file
generator); every patient is an adult Thai card holder, so each may register consent.
Same seed, same rows. Every row of day d is stamped (ovst_seq.update_datetime,
ipt.update_datetime, patient.last_update) on day d, Bangkok wall time, as HOSxP would be.
"""

from __future__ import annotations

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
from synthetic.hosxp_visits import Visit, add_visit, arrival, guid
from synthetic.patients import PRENAMES, build_name_pool, build_patients

ADDRESSES = ("ถนนมิตรภาพ", "ถนนพหลโยธิน", "ซอยวัดป่า", "ถนนเจริญกรุง")


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
                    "hos_guid": guid(rng),
                    "last_update": datetime.combine(start, time(7, 0)),
                },
            )
        )
    number = 0
    allergies: set[tuple[str, str]] = set()
    for day in world.days:
        for visitor in np.flatnonzero(rng.random(patients) < 0.5):  # half the patients a day
            number += 1
            hn = world.patients[int(visitor)]["hn"]
            visit = Visit(number, hn, day, arrival(rng, day), rng, codes)
            height, bmi = float(people.height_cm[visitor]), float(people.bmi[visitor])
            add_visit(world.add, visit, hospital_code, height, bmi, allergies)
    return world


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
