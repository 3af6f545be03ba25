"""Purging rows consent no longer allows: raw, marts and the landing zone.

The published views hide such rows at once (they read the live consent tables); the next sync
calls `purge` so the rows are also gone from storage. The plan compares what storage holds
with the current consent (the projection tables), so it also catches changes made before the
last purge failed half way; it is idempotent. The purge log keeps counts only.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.consent_service import storage
from warehouse.consent_service.clock import to_storage, utc_now

# Which column names the hospital in each purgeable table (dim_patient keeps the hospital
# that supplied the demographics).
_HOSPITAL_COLUMNS = ("hospital_code", "demographics_hospital_code")
_PAIRS_PER_STATEMENT = 200


@dataclass(frozen=True)
class PurgeResult:
    pairs: int
    patients: int
    hospitals: int
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    landing_files_rewritten: int = 0

    @property
    def rows_raw(self) -> int:
        return sum(n for t, n in self.rows.items() if t.startswith("raw."))

    @property
    def rows_marts(self) -> int:
        return sum(n for t, n in self.rows.items() if t.startswith("marts."))


def purgeable_tables(conn: Any) -> list[tuple[str, str]]:
    """(schema.table, hospital column) of raw.* and marts tables keyed by patient and hospital."""
    rows = conn.execute(
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns AS c"
        " JOIN information_schema.tables AS t ON t.table_schema = c.table_schema"
        "  AND t.table_name = c.table_name"
        " WHERE c.table_schema IN ('raw', 'marts') AND t.table_type = 'BASE TABLE'"
        " ORDER BY 1, 2"
    ).fetchall()
    columns: dict[str, set[str]] = defaultdict(set)
    for schema, table, column in rows:
        columns[f"{schema}.{table}"].add(column)
    found = []
    for name, names in sorted(columns.items()):
        hospital_column = next((c for c in _HOSPITAL_COLUMNS if c in names), None)
        if "patient_key" in names and hospital_column:
            found.append((name, hospital_column))
    return found


def purge_plan(conn: Any) -> list[tuple[str, str]]:
    """(patient_key, hospital_code) pairs stored somewhere that consent no longer allows."""
    tables = purgeable_tables(conn)
    if not tables:
        return []
    present = " UNION ".join(
        f"SELECT DISTINCT patient_key, {column} AS hospital_code FROM {name}"
        for name, column in tables
    )
    rows = conn.execute(
        f"""
        SELECT p.patient_key, p.hospital_code
        FROM ({present}) AS p
        LEFT JOIN consent.hospital AS h ON h.hospital_code = p.hospital_code
        WHERE p.patient_key IS NOT NULL AND p.hospital_code IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM consent.patient_consent AS c
            WHERE c.patient_key = p.patient_key AND c.status = 'active'
              AND (c.sender_scope = 'ALL' OR EXISTS (
                SELECT 1 FROM consent.patient_sender AS s
                WHERE s.patient_key = c.patient_key
                  AND ((s.kind = 'hospital' AND s.code = p.hospital_code)
                    OR (s.kind = 'network' AND s.code = h.network_code)))))
        ORDER BY 1, 2
        """
    ).fetchall()
    return [(key, code) for key, code in rows]


def _pair_filter(column: str, chunk: list[tuple[str, str]]) -> tuple[str, list[str]]:
    where = " OR ".join(f"(patient_key = ? AND {column} = ?)" for _ in chunk)
    return where, [value for pair in chunk for value in pair]


def _delete_pairs(conn: Any, table: str, column: str, pairs: list[tuple[str, str]]) -> int:
    deleted = 0
    for start in range(0, len(pairs), _PAIRS_PER_STATEMENT):
        where, params = _pair_filter(column, pairs[start : start + _PAIRS_PER_STATEMENT])
        (count,) = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()
        if count:
            conn.execute(f"DELETE FROM {table} WHERE {where}", params)
            deleted += int(count)
    return deleted


def _rewrite_landing(landing_dir: Path, pairs: list[tuple[str, str]]) -> int:
    """Rewrite landing files of the affected hospitals without the purged patients.

    Same naming as warehouse.landing (entity-<content hash>.parquet), written then renamed.
    """
    keys_by_hospital: dict[str, set[str]] = defaultdict(set)
    for key, hospital in pairs:
        keys_by_hospital[hospital].add(key)
    rewritten = 0
    for hospital, keys in sorted(keys_by_hospital.items()):
        for path in sorted((landing_dir / f"hospital={hospital}").glob("**/*.parquet")):
            table = pq.read_table(path)
            if "patient_key" not in table.column_names:
                continue
            purged = pc.is_in(table.column("patient_key"), value_set=pa.array(sorted(keys)))
            purged = pc.fill_null(purged, False)
            if not pc.any(purged).as_py():
                continue
            kept = table.filter(pc.invert(purged))
            buffer = io.BytesIO()
            pq.write_table(kept, buffer, compression="zstd")
            content = buffer.getvalue()
            entity = path.name.rsplit("-", 1)[0]
            target = path.with_name(f"{entity}-{hashlib.sha256(content).hexdigest()[:16]}.parquet")
            partial = target.with_suffix(".partial")
            partial.write_bytes(content)
            partial.replace(target)
            if target != path:
                path.unlink()
            rewritten += 1
    return rewritten


def purge(conn: Any, landing_dir: Path) -> PurgeResult:
    """Delete what consent no longer allows; record counts (never keys) in consent.purge_log."""
    pairs = purge_plan(conn)
    if not pairs:
        return PurgeResult(pairs=0, patients=0, hospitals=0)
    # Landing first: if the database step fails, the plan (read from the database) still
    # finds the pairs next time; the other order could leave landing files behind.
    rewritten = _rewrite_landing(landing_dir, pairs)
    rows: dict[str, int] = {}
    with storage.transaction(conn):
        for table, column in purgeable_tables(conn):
            rows[table] = _delete_pairs(conn, table, column, pairs)
        result = PurgeResult(
            pairs=len(pairs),
            patients=len({key for key, _ in pairs}),
            hospitals=len({code for _, code in pairs}),
            rows=rows,
            landing_files_rewritten=rewritten,
        )
        conn.execute(
            "INSERT INTO consent.purge_log (purge_id, purged_at, pairs, patients, hospitals,"
            " rows_raw, rows_marts, landing_files_rewritten, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                storage.next_id(conn, "purge_id_seq"),
                to_storage(utc_now()),
                result.pairs,
                result.patients,
                result.hospitals,
                result.rows_raw,
                result.rows_marts,
                result.landing_files_rewritten,
                json.dumps({t: n for t, n in rows.items() if n}, sort_keys=True),
            ],
        )
    return result
