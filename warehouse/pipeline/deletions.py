"""A source's deletions applied to raw and the landing zone (docs/contract.md "Deletions").

A source names each deleted record by a record key prefix (FHIR: `<Type>|<id>`,
`Connector.deleted_record_key`); the record's rows are those of the hospital whose
record_key is the prefix or starts with the prefix and `|`, in every entity (an Observation
may be a vital sign or a lab result; a blood-pressure panel is two vital rows). That rule
lives here only: the load resolves the prefixes once into raw.deleted_record (entity and
record key, the tombstones), and everything downstream, the landing rewrite and dbt's facts
and published rows (macros/incremental_facts.sql, `tombstoned`), compares keys for equality.

In the load's transaction, `record_deletions` replaces the day's tombstones and deletes from
raw every version older than a tombstone, where the day is on one side: the earlier versions
of the records the day deleted, and the day's own rows of records a later day deleted (a
replay or backfill of an older day must not bring them back). A re-run of the day finds the
earlier versions gone, so it keeps the day's earlier tombstones that the extract still names:
the tombstones of a day are the same however often it runs. After the commit,
`rewrite_landing` drops the same rows from the landing files (warehouse.storage.landing_files.
rewrite_without, which the consent purge uses too).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from connectors.contract import ENTITIES
from warehouse.storage.landing_files import rewrite_without
from warehouse.storage.protocol import WarehouseConnection

# The one statement of the prefix rule: a key is the record's when it is the prefix, or
# starts with the prefix and the key separator (substr/length: the same on both dialects;
# LIKE would read `_` and `%` in an id as wildcards).
_KEY_OF_PREFIX = (
    "(r.record_key = d.record_key_prefix OR substr(r.record_key, 1,"
    " length(d.record_key_prefix) + 1) = d.record_key_prefix || '|')"
)


def record_deletions(
    conn: WarehouseConnection,
    hospital_code: str,
    extract_date: date,
    batch_id: str,
    prefixes: list[str],
) -> int:
    """Replace the day's tombstones with the records `prefixes` name and delete their earlier
    versions from raw; returns the raw rows deleted. Caller owns the transaction."""
    day = [hospital_code, extract_date]
    conn.create_temp_table(
        "deleted_prefix", "SELECT CAST(NULL AS VARCHAR) AS record_key_prefix WHERE 1 = 0"
    )
    if prefixes:
        conn.executemany("INSERT INTO deleted_prefix VALUES (?)", [[p] for p in prefixes])
    # Tombstones of an earlier run of the day whose record is still named (its raw versions
    # are gone, so only the old tombstone still knows the key).
    conn.create_temp_table(
        "tombstone",
        f"""SELECT r.entity, r.record_key FROM raw.deleted_record AS r
            WHERE r.hospital_code = ? AND r.extract_date = ?
              AND EXISTS (SELECT 1 FROM deleted_prefix AS d WHERE {_KEY_OF_PREFIX})""",
        day,
    )
    # A prefix is no equality, so no index serves this: a day with deletions reads the
    # hospital's earlier rows of every entity once (PostgreSQL: through the hospital-day
    # index); a day without reads no raw table.
    for entity in ENTITIES if prefixes else ():
        conn.execute(
            f"""INSERT INTO tombstone
                SELECT DISTINCT '{entity}', r.record_key FROM raw.{entity} AS r
                WHERE r.hospital_code = ? AND r.extract_date < ?
                  AND EXISTS (SELECT 1 FROM deleted_prefix AS d WHERE {_KEY_OF_PREFIX})""",
            day,
        )
    conn.execute("DELETE FROM raw.deleted_record WHERE hospital_code = ? AND extract_date = ?", day)
    conn.execute(
        "INSERT INTO raw.deleted_record (hospital_code, extract_date, batch_id, entity,"
        " record_key) SELECT DISTINCT ?, ?, ?, entity, record_key FROM tombstone",
        [*day, batch_id],
    )
    conn.execute("DROP TABLE deleted_prefix")
    conn.execute("DROP TABLE tombstone")
    return _delete_tombstoned(conn, hospital_code, extract_date)


def _delete_tombstoned(conn: WarehouseConnection, hospital_code: str, extract_date: date) -> int:
    """Delete the raw versions that a tombstone of a later day names, where the day is on one
    side: the earlier versions of the day's tombstones, and the day's own rows of records a
    later day deleted (a replay of an older day). Returns the rows deleted."""
    (later,) = conn.execute(
        "SELECT count(*) FROM raw.deleted_record WHERE hospital_code = ? AND extract_date >= ?",
        [hospital_code, extract_date],
    ).fetchone()
    if not later:  # the usual day: no raw table is read
        return 0
    removed = 0
    for entity in ENTITIES:
        versions = f"""FROM raw.{entity} AS r
            WHERE r.hospital_code = ? AND r.extract_date <= ?
              AND EXISTS (SELECT 1 FROM raw.deleted_record AS t
                  WHERE t.hospital_code = r.hospital_code AND t.entity = '{entity}'
                    AND t.record_key = r.record_key AND t.extract_date > r.extract_date
                    AND t.extract_date >= ?)"""
        params = [hospital_code, extract_date, extract_date]
        (count,) = conn.execute(f"SELECT count(*) {versions}", params).fetchone()
        if count:
            conn.execute(f"DELETE {versions}", params)
            removed += int(count)
    return removed


def rewrite_landing(
    conn: WarehouseConnection, landing_dir: Path, hospital_code: str, extract_date: date
) -> int:
    """Rewrite the hospital's landing files without the rows that a later day's tombstone
    names, where the day is on one side (as `_delete_tombstoned` does in raw); returns the
    files rewritten."""
    rows = conn.execute(
        "SELECT extract_date, entity, record_key FROM raw.deleted_record"
        " WHERE hospital_code = ? AND extract_date >= ?",
        [hospital_code, extract_date],
    ).fetchall()
    if not rows:
        return 0
    tombstones: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for day, entity, record_key in rows:
        tombstones[entity].append((day, record_key))

    def deleted(day: date, entity: str, record_keys: pa.ChunkedArray) -> pa.ChunkedArray | None:
        later = sorted({key for tombstoned_on, key in tombstones[entity] if tombstoned_on > day})
        return pc.is_in(record_keys, value_set=pa.array(later, pa.string())) if later else None

    return rewrite_without(landing_dir, hospital_code, "record_key", deleted, through=extract_date)
