"""Blocking keys for the name search, so a search scores tens of candidates, not every name.

rapidfuzz decides (warehouse.api.search); this index only narrows who is scored. Each
visible patient gets four keys from the normalised names (warehouse.api.names): (first
prefix, last prefix), (first suffix, last suffix) and the two mixed pairs, two characters
each. A one-letter typo, a tone mark or spacing changes at most the prefix or the suffix of
each name (names of four or more characters), so at least one of the query's four keys is
one of the patient's.

The keys live in the API's own schema (`api.name_key`), built from `published.patient` at
start-up and rebuilt when the warehouse has new data (`published.hospital_freshness`
changes, i.e. after a sync). A patient who becomes visible without new data (a new
registration) is found after the next sync; a stale index can never show a hidden patient:
every search joins back to `published.patient`.

Erasure: the consent purge (warehouse.consent.purge) deletes every purged patient's
keys and clears `api.name_index_state`, so `NameIndex.ensure` rebuilds at the next search.
It names these tables instead of importing this module (the pipeline sits below the API);
on PostgreSQL it does so through `consent.erase_derived_rows` (migrations/013), since the
loader has no privilege in schema api. Renaming the tables means changing both.
"""

from __future__ import annotations

import threading
import time

import pyarrow as pa

from warehouse.api.names import blocking_keys, normalise_name
from warehouse.storage.connection import WarehouseConnection


def _warehouse_version(conn: WarehouseConnection) -> str:
    row = conn.execute(
        "SELECT count(*), max(data_as_of) FROM published.hospital_freshness"
    ).fetchone()
    return f"{row[0]}|{row[1]}"


def _rebuild(conn: WarehouseConnection, version: str) -> None:
    rows = conn.execute(
        "SELECT patient_key, first_name, last_name FROM published.patient"
    ).fetchall()
    names: list[str] = []
    keys: list[str] = []
    for patient_key, first, last in rows:
        for key in blocking_keys(normalise_name(first or ""), normalise_name(last or "")):
            keys.append(key)
            names.append(patient_key)
    with conn.transaction():
        conn.execute("DELETE FROM api.name_key")
        conn.execute("DELETE FROM api.name_index_state")
        conn.insert_arrow(
            "api.name_key",
            pa.table({"name_key": pa.array(keys, pa.string()), "patient_key": names}),
        )
        conn.execute("INSERT INTO api.name_index_state (built_for) VALUES (?)", [version])


class NameIndex:
    """Keeps api.name_key in step with the warehouse (checked at most every few seconds)."""

    def __init__(self, check_seconds: float = 5.0) -> None:
        self.check_seconds = check_seconds
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def ensure(self, conn: WarehouseConnection, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.check_seconds:
            return
        with self._lock:
            version = _warehouse_version(conn)
            state = conn.execute("SELECT built_for FROM api.name_index_state").fetchone()
            if force or state is None or state[0] != version:
                _rebuild(conn, version)
            self._checked = time.monotonic()
