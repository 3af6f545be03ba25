"""Consent's effects on the pipeline: cohorts (full history vs incremental) and the purge."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.consent_kit import (
    DAY0,
    H1,
    H2,
    H3,
    H4,
    H4_JOINS,
    KEY,
    bkk,
    key_of,
    registration,
    registry,
)
from warehouse import consent as cs
from warehouse.consent import SenderChoice
from warehouse.pipeline.landing import land

REG = registry()


def _register(conn: Any, serial: int, choice: SenderChoice | None = None, now=DAY0) -> None:  # type: ignore[no-untyped-def]
    reg = registration(serial, choice, verified_at=now - timedelta(minutes=5))
    cs.register(conn, REG, reg, KEY, now=now)


def test_cohort_splits_newly_consenting_from_continuing(conn: Any) -> None:
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=bkk(2025, 1, 1))
    _register(conn, 1, now=bkk(2025, 2, 1))  # continuing
    _register(conn, 2, SenderChoice.of(hospitals={H2}), now=bkk(2025, 2, 1))
    _register(conn, 3, now=bkk(2025, 2, 1))  # withdraws and rejoins in between
    last_sync = bkk(2025, 2, 5, 2)
    _register(conn, 4, now=bkk(2025, 2, 6))  # new registration
    cs.change_sources(
        conn, REG, key_of(2), SenderChoice.of(hospitals={H1, H2}), now=bkk(2025, 2, 6)
    )
    cs.withdraw(conn, key_of(3), now=bkk(2025, 2, 6))
    cs.rejoin(conn, REG, key_of(3), now=bkk(2025, 2, 7))
    changes = cs.cohort_changes(conn, H1, last_sync)
    assert changes.newly_consenting == sorted([key_of(2), key_of(3), key_of(4)])
    assert changes.continuing == [key_of(1)]
    # H2 was in patient 2's list all along.
    assert key_of(2) in cs.cohort_changes(conn, H2, last_sync).continuing


def test_a_hospital_joining_brings_its_whole_cohort_in_full(conn: Any) -> None:
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=bkk(2025, 1, 1))
    _register(conn, 1)
    _register(conn, 2, SenderChoice.of(hospitals={H1}))
    before_join = bkk(2025, 2, 28, 2)
    cs.record_hospital_joined(conn, REG, H4_JOINS, now=bkk(2025, 3, 1, 1))
    changes = cs.cohort_changes(conn, H4, before_join)
    assert (changes.newly_consenting, changes.continuing) == ([key_of(1)], [])
    later = cs.cohort_changes(conn, H4, bkk(2025, 3, 2, 2))
    assert (later.newly_consenting, later.continuing) == ([], [key_of(1)])


def _raw_rows(conn: Any, rows: list[tuple[str, str]]) -> None:
    for number, (key, hospital) in enumerate(rows):
        conn.execute(
            "INSERT INTO raw.encounter (hospital_code, record_key, patient_key) VALUES (?, ?, ?)",
            [hospital, f"R{number}", key],
        )


def _landing(landing_dir: Path, hospital: str, keys: list[str]) -> Path:
    table = pa.table({"record_key": [f"R{i}" for i in range(len(keys))], "patient_key": keys})
    landed = land(landing_dir, hospital, date(2025, 2, 10), f"{hospital}-b1", {"encounter": table})
    return landed.directory


def test_purge_removes_withdrawn_and_deselected_rows_everywhere(conn: Any, tmp_path: Path) -> None:
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=bkk(2025, 1, 1))
    _register(conn, 1, now=bkk(2025, 2, 1))  # withdraws
    _register(conn, 2, now=bkk(2025, 2, 1))  # drops H3 from the choice
    _register(conn, 3, now=bkk(2025, 2, 1))  # stays
    _raw_rows(conn, [(key_of(n), h) for n in (1, 2, 3) for h in (H1, H3)])
    landing_dir = tmp_path / "landing"
    h1_dir = _landing(landing_dir, H1, [key_of(1), key_of(2), key_of(3)])
    h3_dir = _landing(landing_dir, H3, [key_of(1), key_of(2), key_of(3)])
    assert cs.purge_plan(conn) == []
    cs.withdraw(conn, key_of(1), now=DAY0)
    cs.change_sources(conn, REG, key_of(2), SenderChoice.of(hospitals={H1, H2}), now=DAY0)
    plan = cs.purge_plan(conn)
    assert plan == sorted([(key_of(1), H1), (key_of(1), H3), (key_of(2), H3)])
    result = cs.purge(conn, landing_dir)
    assert (result.pairs, result.patients, result.hospitals) == (3, 2, 2)
    assert result.rows["raw.encounter"] == 3
    assert result.landing_files_rewritten == 2
    left = conn.execute(
        "SELECT patient_key, hospital_code FROM raw.encounter ORDER BY 1, 2"
    ).fetchall()
    assert sorted(tuple(r) for r in left) == sorted(
        [(key_of(2), H1), (key_of(3), H1), (key_of(3), H3)]
    )
    landed = {
        directory.parent.parent.name: sorted(
            pq.read_table(next(directory.glob("encounter-*.parquet")))
            .column("patient_key")
            .to_pylist()
        )
        for directory in (h1_dir, h3_dir)
    }
    assert landed == {
        f"hospital={H1}": sorted([key_of(2), key_of(3)]),
        f"hospital={H3}": [key_of(3)],
    }
    assert len(list(h1_dir.glob("encounter-*.parquet"))) == 1
    assert cs.purge_plan(conn) == []  # idempotent: nothing left
    (log,) = conn.execute(
        "SELECT pairs, patients, rows_raw, detail FROM consent.purge_log"
    ).fetchall()
    assert tuple(log[:3]) == (3, 2, 3)
    assert key_of(1) not in log[3] and key_of(2) not in log[3]  # counts only
