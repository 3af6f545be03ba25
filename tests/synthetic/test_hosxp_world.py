"""The synthetic HOSxP hospital's rows, before any database: keys unique, IDs valid, Thai text."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from connectors.hosxp.connector import QUERIES
from expectations.national_id import is_valid_thai_national_id
from synthetic.hosxp import build_world
from tests.support.machine import START


def test_every_table_key_is_unique_in_a_larger_hospital() -> None:
    world = build_world("10913", START, days=3, patients=3000, seed=5)
    for query in QUERIES:
        rows = world.rows[query.table]
        keys = Counter(tuple(row[column] for column in query.key) for row in rows)
        assert rows, query.table
        assert max(keys.values()) == 1, f"{query.table}: a primary key repeats"
    assert all(is_valid_thai_national_id(p["cid"]) for p in world.patients)
    assert {v["vstdate"] for v in world.rows["ovst"]} == {
        START + timedelta(days=d) for d in range(3)
    }


def test_the_same_seed_gives_the_same_rows() -> None:
    first = build_world("10913", START, days=2, patients=50, seed=5)
    again = build_world("10913", START, days=2, patients=50, seed=5)
    assert first.rows == again.rows
