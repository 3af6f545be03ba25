"""Helpers for the consent tests: a small registry, valid national IDs, Bangkok instants."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from hypothesis import strategies as st

from warehouse.consent import Registration, SenderChoice
from warehouse.consent.sender_choice import allowed_patient_keys
from warehouse.hospital_registry import Hospital, Network, Registry
from warehouse.pseudonym import patient_key

KEY = b"test-pseudonym-key"
BANGKOK = ZoneInfo("Asia/Bangkok")
H1, H2, H3, H4, H5 = "10001", "10002", "10003", "10004", "10005"
NET01, NET02, NET03 = "NET01", "NET02", "NET03"
H4_JOINS = date(2025, 3, 1)


def bkk(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An aware UTC instant given as Bangkok wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=BANGKOK).astimezone(UTC)


DAY0 = bkk(2025, 2, 10)  # a Monday morning in Bangkok


def registry(h4_since: date | None = H4_JOINS) -> Registry:
    """NET01: H1, H2 (and H4 from 1 March 2025); NET02 (per-visit): H3; NET03: H5, not yet."""
    connector = {"kind": "file43", "path": str(Path("/nonexistent"))}
    since = date(2024, 1, 1)

    def hospital(code: str, network: str, participating: date | None) -> Hospital:
        return Hospital.model_validate(
            {
                "hospital_code": code,
                "name": f"Hospital {code}",
                "network": network,
                "health_region": 1,
                "participating_since": participating,
                "connector": connector,
            }
        )

    return Registry(
        networks={
            NET01: Network(code=NET01, name="Network one"),
            NET02: Network(code=NET02, name="Network two", consent_type="per_visit"),
            NET03: Network(code=NET03, name="Network three"),
        },
        hospitals={
            H1: hospital(H1, NET01, since),
            H2: hospital(H2, NET01, since),
            H3: hospital(H3, NET02, since),
            H4: hospital(H4, NET01, h4_since),
            H5: hospital(H5, NET03, None),
        },
    )


def national_id(serial: int) -> str:
    """A valid Thai national ID (first digit 1, right check digit) per serial number."""
    body = f"1{serial:011d}"
    total = sum(int(d) * w for d, w in zip(body, range(13, 1, -1), strict=True))
    return body + str((11 - total % 11) % 10)


def key_of(serial: int) -> str:
    return patient_key(national_id(serial), KEY)


def registration(
    serial: int,
    choice: SenderChoice | None = None,
    *,
    birth_date: date = date(1980, 5, 1),
    verified_at: datetime | None = None,
    verified_serial: int | None = None,
    method: str = "thaid",
    sensitive: bool = False,
) -> Registration:
    return Registration(
        national_id=national_id(serial),
        birth_date=birth_date,
        verification_method=method,
        verified_at=verified_at or DAY0 - timedelta(minutes=5),
        verified_national_id=national_id(
            verified_serial if verified_serial is not None else serial
        ),
        choice=choice or SenderChoice.everyone(),
        sensitive_allowed=sensitive,
    )


def sender_choices(max_networks: int = 2) -> st.SearchStrategy[SenderChoice]:
    """ALL, or up to `max_networks` of NET01/NET02 plus up to two of H1-H3 (maybe empty)."""
    return st.one_of(
        st.just(SenderChoice.everyone()),
        st.builds(
            SenderChoice.of,
            st.sets(st.sampled_from(["NET01", "NET02"]), max_size=max_networks),
            st.sets(st.sampled_from([H1, H2, H3]), max_size=2),
        ),
    )


def allowed_of(conn: Any, hospital_code: str, serials: Iterable[int] = range(1, 20)) -> set[str]:
    """Which of patients 1-19 (every patient a test registers) the hospital may send for,
    asked as a batch of theirs asks (warehouse.consent.sender_choice.allowed_patient_keys)."""
    keys = pa.array([key_of(serial) for serial in serials], pa.string())
    return set(allowed_patient_keys(conn, hospital_code, keys).to_pylist())
