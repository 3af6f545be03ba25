"""One synthetic HOSxP visit: the rows it leaves in each table (synthetic/hosxp.py).

Which extras a visit has (labs, vaccines, procedures, an x-ray, an allergy, an admission)
follows from its number, so a few days of visits cover every table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

import numpy as np

from synthetic.codes import CodeSets

CHIEF_COMPLAINTS: Final = (
    "ไข้ ไอ เจ็บคอ 2 วัน",
    "ปวดศีรษะ เวียนศีรษะ",
    "มาตามนัด ตรวจติดตามความดัน",
    "ปวดท้อง ถ่ายเหลว",
    "แผลที่เท้า",
    "ผื่นคันตามตัว",
)
DOCTORS: Final = ("0001", "0002", "0003")

Add = Callable[[str, dict[str, Any]], Any]


def guid(rng: np.random.Generator) -> str:
    """A HOSxP hos_guid: a braced upper-case UUID."""
    return "{" + str(uuid.UUID(bytes=rng.bytes(16), version=4)).upper() + "}"


@dataclass(frozen=True)
class Visit:
    number: int  # 1.. across the hospital's days
    hn: str
    day: date
    at: datetime  # arrival, Bangkok wall time
    rng: np.random.Generator
    codes: CodeSets

    @property
    def vn(self) -> str:
        return f"{self.day:%y%m%d}{self.number:06d}"

    @property
    def an(self) -> str | None:
        return f"{self.day:%y}{self.number:07d}" if self.number % 9 == 0 else None

    @property
    def doctor(self) -> str:
        return DOCTORS[self.number % len(DOCTORS)]

    def every(self, period: int) -> bool:
        return self.number % period == 0

    def pick(self, codes: np.ndarray) -> int:
        return int(self.rng.choice(codes))


def add_visit(
    add: Add,
    visit: Visit,
    hospital_code: str,
    height: float,
    bmi: float,
    allergies: set[tuple[str, str]],
) -> None:
    """`allergies`: the (hn, agent) already recorded (opd_allergy's key), shared by visits."""
    _outpatient(add, visit)
    _screening(add, visit, height, bmi)
    _diagnoses(add, visit)
    _dispensing(add, visit)
    if visit.every(3):
        _lab(add, visit)
    if visit.every(5):
        _vaccine(add, visit, hospital_code)
    _procedures(add, visit)
    if visit.every(7):
        add("xray_report", {"xn": visit.number, "vn": visit.vn, "hn": visit.hn,
                            "xray_items_code": 1, "request_date": visit.day,
                            "report_text": "ปอดปกติ ไม่พบความผิดปกติ",
                            "doctor_read": visit.doctor})  # fmt: skip
    if visit.every(8):
        _allergy(add, visit, allergies)
    if visit.an:
        _admission(add, visit, visit.an)


def _outpatient(add: Add, v: Visit) -> None:
    add("ovst", {"vn": v.vn, "hn": v.hn, "an": v.an, "vstdate": v.day, "vsttime": v.at.time(),
                 "doctor": v.doctor, "main_dep": "010", "spclty": "01", "pttype": "10",
                 "ovstost": "1", "hos_guid": guid(v.rng)})  # fmt: skip
    add("vn_stat", {"vn": v.vn, "hn": v.hn, "vstdate": v.day, "an": v.an, "pdx": None,
                    "age_y": 40, "income": 150.0})  # fmt: skip
    # HOSxP stamps the visit when its record is saved, here an hour after arrival.
    add("ovst_seq", {"vn": v.vn, "seq_id": v.vn, "update_datetime": v.at + timedelta(hours=1)})


def _screening(add: Add, v: Visit, height: float, bmi: float) -> None:
    add("opdscreen", {
        "vn": v.vn, "hn": v.hn, "vstdate": v.day, "vsttime": v.at.time(),
        "cc": CHIEF_COMPLAINTS[v.number % len(CHIEF_COMPLAINTS)],
        "temperature": round(float(v.rng.normal(36.9, 0.4)), 1),
        "bps": float(v.rng.integers(100, 160)), "bpd": float(v.rng.integers(60, 95)),
        "pulse": float(v.rng.integers(60, 100)), "rr": 20.0,
        "bw": round(bmi * (height / 100) ** 2, 1), "height": round(height, 1),
        "bmi": round(bmi, 1), "waist": None, "fbs": None, "hos_guid": guid(v.rng),
    })  # fmt: skip


def _diagnoses(add: Add, v: Visit) -> None:
    general = v.codes.icd10.general()
    for k, diagtype in enumerate(("1", "4")[: 1 + v.number % 2]):  # principal, comorbidity
        add("ovstdiag", {"ovst_diag_id": 2 * v.number + k, "vn": v.vn, "hn": v.hn,
                         "vstdate": v.day, "icd10": v.codes.icd10.codes[v.pick(general)],
                         "diagtype": diagtype, "doctor": v.doctor,
                         "hos_guid": guid(v.rng)})  # fmt: skip


def _item(v: Visit, *, vn: str | None, an: str | None, quantity: float) -> dict[str, Any]:
    return {"hos_guid": guid(v.rng), "vn": vn, "an": an, "hn": v.hn,
            "icode": f"1{v.pick(v.codes.drugs.general()):06d}", "qty": quantity,
            "unitprice": 1.5, "rxdate": v.day, "rxtime": v.at.time(),
            "doctor": v.doctor}  # fmt: skip


def _dispensing(add: Add, v: Visit) -> None:
    for _ in range(int(v.rng.integers(1, 3))):
        add("opitemrece", _item(v, vn=v.vn, an=None, quantity=float(v.rng.integers(10, 30))))


def _lab(add: Add, v: Visit) -> None:
    lab = v.pick(v.codes.labs.general())
    low, high = np.nan_to_num(v.codes.lab_low[lab]), v.codes.lab_high[lab]
    result = "Negative" if np.isnan(high) else f"{v.rng.uniform(low, high * 1.2):.1f}"
    add("lab_head", {"lab_order_number": v.number, "vn": v.vn, "hn": v.hn,
                     "order_date": v.day, "order_time": v.at.time(), "report_date": v.day,
                     "report_time": (v.at + timedelta(hours=2)).time(),
                     "confirm_report": "Y"})  # fmt: skip
    add("lab_order", {"lab_order_number": v.number, "lab_items_code": lab + 1,
                      "lab_order_result": result})  # fmt: skip


def _vaccine(add: Add, v: Visit, hospital_code: str) -> None:
    add("ovst_vaccine", {"ovst_vaccine_id": v.number, "vn": v.vn,
                         "person_vaccine_id": 1 + v.number % len(v.codes.vaccines.codes),
                         "vaccine_lotno": f"LOT{v.number:04d}", "doctor_code": v.doctor,
                         "hospcode": hospital_code})  # fmt: skip


def _procedure_code(v: Visit) -> str:
    return v.codes.procedures.codes[v.number % len(v.codes.procedures.codes)]


def _procedures(add: Add, v: Visit) -> None:
    if v.every(4):  # er_oper_code ids follow the procedure seed's order (synthetic/hosxp.py)
        add("er_regist_oper", {"er_regist_oper_id": v.number, "vn": v.vn,
                               "er_oper_code": 1 + v.number % len(v.codes.procedures.codes),
                               "doctor": v.doctor})  # fmt: skip
    if v.every(6):
        add("doctor_operation", {"doctor_operation_id": v.number, "vn": v.vn,
                                 "icd9": _procedure_code(v), "doctor": v.doctor})  # fmt: skip


def _allergy(add: Add, v: Visit, recorded: set[tuple[str, str]]) -> None:
    drug = v.number % len(v.codes.drugs.codes)
    agent = f"{v.codes.drugs.names[drug]} แพ้ยา"
    if (v.hn, agent) in recorded:
        return  # an allergy is recorded once per patient and drug
    recorded.add((v.hn, agent))
    add("opd_allergy", {"hn": v.hn, "agent": agent,
                        "report_date": v.day, "symptom": "ผื่นแดง คัน", "reporter": v.doctor,
                        "relation_level": 2, "seriousness_id": 1, "informant": "1",
                        "agent_code24": v.codes.drugs.codes[drug],
                        "update_datetime": v.at + timedelta(minutes=30),
                        "hos_guid": guid(v.rng)})  # fmt: skip


def _admission(add: Add, v: Visit, an: str) -> None:
    add("ipt", {"an": an, "hn": v.hn, "vn": v.vn, "regdate": v.day, "regtime": v.at.time(),
                "dchdate": None, "dchtime": None, "ward": "0201", "dchstts": None,
                "dchtype": None, "update_datetime": v.at + timedelta(hours=2),
                "hos_guid": guid(v.rng)})  # fmt: skip
    add("iptdiag", {"ipt_diag_id": v.number, "an": an, "diagtype": "1", "doctor": v.doctor,
                    "icd10": v.codes.icd10.codes[v.pick(v.codes.icd10.general())]})  # fmt: skip
    add("iptoprt", {"iptoprt_id": v.number, "an": an, "icd9": _procedure_code(v),
                    "oprtdate": v.day, "doctor": v.doctor})  # fmt: skip
    add("opitemrece", _item(v, vn=None, an=an, quantity=3.0))


def arrival(rng: np.random.Generator, day: date) -> datetime:
    """Office hours, 08:00 to 16:00."""
    return datetime.combine(day, time(8, 0)) + timedelta(minutes=int(rng.integers(0, 480)))
