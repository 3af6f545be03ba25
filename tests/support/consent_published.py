"""The reference model's patient, their preloaded rows, and the published checks.

No published row may contradict the model: what the published views show (as the warehouse's
owner on DuckDB, as the superuser on PostgreSQL) is exactly the stored mart rows the model
allows; what the API role sees on PostgreSQL is that minus the per-visit hospitals' rows (the
stateful histories grant no per-visit access).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tests.support import raw_fixture
from tests.support.consent_kit import H1, H2, H3, key_of
from warehouse.api.gate import set_physician

CATEGORIES = ("encounter", "diagnosis", "medication_dispense", "lab_result", "allergy")
PATIENTS = (1, 2, 3)
PHYSICIAN = ("MD4711", H1)  # licence, the hospital they work at

Row = tuple[Any, ...]  # (patient_key, hospital_code, is_sensitive, rows)


@dataclass
class ModelPatient:
    """The reference model's view of one patient (kept by the stateful test)."""

    status: str = "unregistered"
    scope: str = "ALL"
    networks: set[str] = field(default_factory=set)
    hospitals: set[str] = field(default_factory=set)
    sensitive: bool = False

    def allows(self, hospital: str, network: str | None) -> bool:
        return self.status == "active" and (
            self.scope == "ALL" or hospital in self.hospitals or network in self.networks
        )


def preload_rows(conn: Any) -> None:
    """Raw rows of patients 1-3 at H1-H3 from before anyone consented (one HIV visit each,
    sensitive), so the published filter has rows to hide from the first step on."""
    raw = raw_fixture.RawRows(extract_date=dt.date(2025, 1, 10))
    for serial in PATIENTS:
        for hospital in (H1, H2, H3):
            raw.person(hospital, key_of(serial), "ทดสอบ")
            raw.visit(hospital, key_of(serial), f"S{serial}{hospital}", "J00")
        raw.visit(H1, key_of(serial), f"HIV{serial}", "B24")
        raw.allergy(H2, key_of(serial), raw_fixture.PARACETAMOL)
    raw.write(conn)


def networks_of(conn: Any) -> dict[str, str | None]:
    return dict(conn.execute("SELECT hospital_code, network_code FROM consent.hospital").fetchall())


def _grouped(conn: Any, relation: str, keys: list[str]) -> list[Row]:
    marks = ", ".join("?" for _ in keys)
    return [
        tuple(row)
        for row in conn.execute(
            f"SELECT patient_key, hospital_code, is_sensitive, count(*) FROM {relation}"
            f" WHERE patient_key IN ({marks}) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            keys,
        ).fetchall()
    ]


def assert_published_consistent(conn: Any, model: dict[int, ModelPatient]) -> dict[str, list[Row]]:
    """No published row contradicts the model; every mart row the model allows is published.

    Returns, per category, the rows the model allows (for the API check).
    """
    networks = networks_of(conn)
    keys = {key_of(serial): patient for serial, patient in model.items()}
    allowed: dict[str, list[Row]] = {}
    for category in CATEGORIES:
        stored = _grouped(conn, f"marts.fct_{category}", list(keys))
        allowed[category] = [
            row
            for row in stored
            if keys[row[0]].allows(row[1], networks.get(row[1]))
            and (keys[row[0]].sensitive or not row[2])
        ]
        published = _grouped(conn, f"published.{category}", list(keys))
        assert published == allowed[category], (category, published, allowed[category])
    return allowed


def assert_api_consistent(api: Any, owner: Any, allowed: dict[str, list[Row]]) -> None:
    """PostgreSQL, connected as the API role: row-level security shows the allowed rows of
    the hospitals without per-visit consent and nothing of the others (no grant exists)."""
    per_visit = {
        code
        for (code,) in owner.execute(
            "SELECT hospital_code FROM consent.hospital WHERE per_visit_consent"
        ).fetchall()
    }
    set_physician(api, *PHYSICIAN)
    keys = [key_of(serial) for serial in PATIENTS]
    for category in CATEGORIES:
        seen = _grouped(api, f"published.{category}", keys)
        expected = [row for row in allowed[category] if row[1] not in per_visit]
        assert seen == expected, (category, seen, expected)
