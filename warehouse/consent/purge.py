"""Purging rows consent no longer allows: raw, marts and the landing zone.

The published views hide such rows at once (they read the live consent tables); the next sync
calls `purge` so the rows are also gone from storage. The purge log keeps counts only.

Daily, the plan looks only at the patients who may have lost a hospital since the last purge:
those with a narrowing event (below) after the checkpoint, `ops.purge_checkpoint`, the highest
consent.event id covered. For them it compares what storage holds with the current consent
(the projection tables). The checkpoint moves in the transaction that deletes, so a purge that
fails half way is planned again next time. `full=True` compares every stored pair instead (a
scan of the whole warehouse); the first purge of a warehouse (no checkpoint yet) is one.

No event records these, so only a full sweep catches them: a hospital moving to another
network or leaving the registry (consent.hospital mirrors the registry YAML, and a network
choice follows it), and rows stored without the load's consent filter (a restored backup, a
manual insert). The checkpoint is kept in ops, not consent: the citizen app's database role
may write every consent table (migrations/004_grants.sql), and must not move it.

Erasure covers every derived store that holds a purged pair, in the same transaction: raw and
marts (above), the landing files (rewritten first), and on PostgreSQL the published row tables
dbt built from the marts; the API's name-search index (api.name_key: name fragments keyed by
patient) loses every purged patient on both warehouses and is rebuilt from the consent-filtered
published.patient at the API's next search. Those last two are the API's and the
transformer's tables: on PostgreSQL the loader reaches them through one definer function
(consent.erase_derived_rows, migrations/013_purge_erasure.sql); on DuckDB they are named here,
not imported, because the pipeline sits below the API (imports go one way, api -> consent).
After the commit the purge asks the storage to drop the deleted bytes: CHECKPOINT on DuckDB,
VACUUM on PostgreSQL of the touched tables the connected role owns (the rest are reported as
`reclaim_pending` for the owner's maintenance job). docs/security.md ("Erasure") says what
each warehouse then guarantees.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from warehouse.clock import to_storage, utc_now
from warehouse.consent import storage
from warehouse.consent.sender_choice import allows_sql
from warehouse.storage.landing_files import rewrite_without
from warehouse.storage.protocol import WarehouseConnection

log = structlog.get_logger(__name__)

# The API's name-search index (warehouse.api.name_index) on DuckDB, where there are no roles:
# its keys of every purged patient go, and its state row, so the API rebuilds it.
NAME_INDEX_TABLE = "api.name_key"
NAME_INDEX_STATE_TABLE = "api.name_index_state"

# Which column names the hospital in each purgeable table (dim_patient keeps the hospital
# that supplied the demographics).
_HOSPITAL_COLUMNS = ("hospital_code", "demographics_hospital_code")
_PAIRS_PER_STATEMENT = 200

# Events that can take a hospital away from a patient. Registering and rejoining cannot: they
# start from a state that allows nothing (one registration per person; a rejoining follows a
# withdrawal, itself purged). sensitive_changed and the per-visit events do not decide what is
# stored (the views apply them); hospital_joined only adds hospitals.
NARROWING_EVENTS = ("withdrawn", "sources_changed")

# PostgreSQL hands out event ids before the appending transaction commits, so an event can
# become visible after a higher id was covered. The daily plan reads this many ids below the
# checkpoint again (seconds of appends at any plausible rate); a patient purged already
# contributes nothing.
RECHECKED_EVENT_IDS = 1000


@dataclass(frozen=True)
class PurgeResult:
    pairs: int
    patients: int
    hospitals: int
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    landing_files_rewritten: int = 0
    full: bool = False  # every stored pair was compared, not only the changed patients'
    # Tables whose deleted bytes the storage dropped after the commit (DuckDB: the file, by
    # CHECKPOINT; PostgreSQL: each table VACUUMed), and those left for the owner's VACUUM.
    reclaimed: tuple[str, ...] = ()
    reclaim_pending: tuple[str, ...] = ()

    @property
    def rows_raw(self) -> int:
        return sum(n for t, n in self.rows.items() if t.startswith("raw."))

    @property
    def rows_marts(self) -> int:
        return sum(n for t, n in self.rows.items() if t.startswith("marts."))

    @property
    def rows_derived(self) -> int:
        """Rows deleted from the published row tables and the API's name index."""
        return sum(n for t, n in self.rows.items() if t.startswith(("published.", "api.")))


@dataclass(frozen=True)
class _Plan:
    pairs: list[tuple[str, str]]
    through_event_id: int  # what the checkpoint becomes once the pairs are deleted
    full: bool


def purgeable_tables(conn: WarehouseConnection) -> list[tuple[str, str]]:
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


def _checkpoint(conn: WarehouseConnection) -> int | None:
    (through,) = conn.execute("SELECT max(through_event_id) FROM ops.purge_checkpoint").fetchone()
    return None if through is None else int(through)


def _move_checkpoint(conn: WarehouseConnection, through_event_id: int) -> None:
    """Only forward; called in the deleting transaction."""
    previous = _checkpoint(conn)
    conn.execute("DELETE FROM ops.purge_checkpoint")
    conn.execute(
        "INSERT INTO ops.purge_checkpoint (through_event_id, moved_at) VALUES (?, ?)",
        [max(through_event_id, previous or 0), to_storage(utc_now())],
    )


_NARROWED_SQL = (
    "SELECT DISTINCT patient_key FROM consent.event WHERE event_id > ? AND event_id <= ?"
    f" AND event_type IN ({', '.join(repr(kind) for kind in NARROWING_EVENTS)})"
)


def _disallowed_pairs(
    conn: WarehouseConnection, tables: list[tuple[str, str]], event_ids: tuple[int, int] | None
) -> list[tuple[str, str]]:
    """Stored pairs the current consent does not allow: of every patient (`event_ids` None),
    or of the patients with a narrowing event in the id range (low, high]."""
    only_narrowed = (
        "" if event_ids is None else " WHERE patient_key IN (SELECT patient_key FROM narrowed)"
    )
    present = " UNION ".join(
        f"SELECT DISTINCT patient_key, {column} AS hospital_code FROM {name}{only_narrowed}"
        for name, column in tables
    )
    narrowed = "" if event_ids is None else f"WITH narrowed AS ({_NARROWED_SQL}) "
    rows = conn.execute(
        f"""
        {narrowed}SELECT p.patient_key, p.hospital_code
        FROM ({present}) AS p
        LEFT JOIN consent.hospital AS h ON h.hospital_code = p.hospital_code
        WHERE p.patient_key IS NOT NULL AND p.hospital_code IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM consent.patient_consent AS c
            WHERE c.patient_key = p.patient_key
              AND {allows_sql("c", "p.hospital_code", "h.network_code")})
        ORDER BY 1, 2
        """,
        [] if event_ids is None else list(event_ids),
    ).fetchall()
    return [(key, code) for key, code in rows]


def _plan(conn: WarehouseConnection, *, full: bool) -> _Plan:
    # The id bound is read first: an event appended while the plan runs stays uncovered.
    (through,) = conn.execute("SELECT coalesce(max(event_id), 0) FROM consent.event").fetchone()
    through = int(through)
    checkpoint = _checkpoint(conn)
    tables = purgeable_tables(conn)
    if full or checkpoint is None:
        return _Plan(_disallowed_pairs(conn, tables, None) if tables else [], through, True)
    event_ids = (max(checkpoint - RECHECKED_EVENT_IDS, 0), through)
    (narrowed,) = conn.execute(f"SELECT count(*) FROM ({_NARROWED_SQL}) AS n", event_ids).fetchone()
    if not narrowed or not tables:  # nothing narrowed: no clinical table is read
        return _Plan([], through, False)
    return _Plan(_disallowed_pairs(conn, tables, event_ids), through, False)


def purge_plan(conn: WarehouseConnection, *, full: bool = False) -> list[tuple[str, str]]:
    """(patient_key, hospital_code) pairs stored somewhere that consent no longer allows.

    Daily: of the patients with a narrowing event since the checkpoint (or of everyone when
    there is no checkpoint yet). `full`: of everyone.
    """
    return _plan(conn, full=full).pairs


def _pair_filters(column: str, pairs: list[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """WHERE clauses covering `pairs`, a few hundred each, one arm per hospital
    (`hospital = ? AND patient_key IN (...)`): PostgreSQL reads the raw tables through their
    hospital index, DuckDB skips other hospitals' row groups."""
    ordered = sorted(pairs, key=lambda pair: (pair[1], pair[0]))
    for start in range(0, len(ordered), _PAIRS_PER_STATEMENT):
        keys_by_hospital: dict[str, list[str]] = defaultdict(list)
        for key, hospital in ordered[start : start + _PAIRS_PER_STATEMENT]:
            keys_by_hospital[hospital].append(key)
        arms, params = [], []
        for hospital, keys in keys_by_hospital.items():
            arms.append(f"({column} = ? AND patient_key IN ({', '.join('?' * len(keys))}))")
            params += [hospital, *keys]
        yield " OR ".join(arms), params


def _delete_pairs(
    conn: WarehouseConnection, table: str, column: str, pairs: list[tuple[str, str]]
) -> int:
    deleted = 0
    for where, params in _pair_filters(column, pairs):
        (count,) = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()
        if count:
            conn.execute(f"DELETE FROM {table} WHERE {where}", params)
            deleted += int(count)
    return deleted


def _of_patients(
    purged: pa.Array, _day: date, _entity: str, patient_keys: pa.ChunkedArray
) -> pa.ChunkedArray:
    return pc.is_in(patient_keys, value_set=purged)


def _rewrite_landing(landing_dir: Path, pairs: list[tuple[str, str]]) -> int:
    """Rewrite landing files of the affected hospitals without the purged patients."""
    keys_by_hospital: dict[str, set[str]] = defaultdict(set)
    for key, hospital in pairs:
        keys_by_hospital[hospital].add(key)
    return sum(
        rewrite_without(
            landing_dir, hospital, "patient_key", partial(_of_patients, pa.array(sorted(keys)))
        )
        for hospital, keys in sorted(keys_by_hospital.items())
    )


def _erase_derived(conn: WarehouseConnection, pairs: list[tuple[str, str]]) -> dict[str, int]:
    """Delete the pairs from the stores built from the marts; rows deleted per table."""
    if conn.dialect == "postgres":
        rows = conn.execute(
            "SELECT relation, deleted FROM consent.erase_derived_rows(?::varchar[], ?::varchar[])",
            [[key for key, _ in pairs], [code for _, code in pairs]],
        ).fetchall()
        return {str(relation): int(deleted) for relation, deleted in rows}
    # DuckDB: the published layer is views (nothing stored); the name index is a table.
    (present,) = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'api'"
        " AND table_name = 'name_key'"
    ).fetchone()
    if not present:
        return {}
    deleted = 0
    keys = sorted({key for key, _ in pairs})
    for start in range(0, len(keys), _PAIRS_PER_STATEMENT):
        chunk = keys[start : start + _PAIRS_PER_STATEMENT]
        where = f"patient_key IN ({', '.join('?' * len(chunk))})"
        (count,) = conn.execute(
            f"SELECT count(*) FROM {NAME_INDEX_TABLE} WHERE {where}", chunk
        ).fetchone()
        conn.execute(f"DELETE FROM {NAME_INDEX_TABLE} WHERE {where}", chunk)
        deleted += int(count)
    conn.execute(f"DELETE FROM {NAME_INDEX_STATE_TABLE}")
    return {NAME_INDEX_TABLE: deleted}


def _reclaim(
    conn: WarehouseConnection, tables: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Ask the storage to drop the deleted bytes of `tables`: (reclaimed, pending).

    DuckDB: CHECKPOINT writes the deletions into the file (not only the WAL) and frees the
    blocks of emptied row groups. PostgreSQL: VACUUM removes dead tuples from the pages; only
    a table's owner (or a superuser) may, so the loader's purge leaves its tables pending.
    """
    if not tables or conn.in_transaction():  # neither runs inside a transaction: pending
        return (), tuple(tables)
    if conn.dialect != "postgres":
        conn.execute("CHECKPOINT")
        return tuple(tables), ()
    owned = {
        name
        for (name,) in conn.execute(
            "SELECT t.name FROM unnest(?::text[]) AS t(name)"
            " JOIN pg_catalog.pg_class AS c ON c.oid = to_regclass(t.name)"
            " WHERE pg_has_role(current_user, c.relowner, 'USAGE')"
            "  OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)",
            [tables],
        ).fetchall()
    }
    for name in sorted(owned):
        conn.execute(f"VACUUM {name}")
    return tuple(sorted(owned)), tuple(sorted(set(tables) - owned))


def purge(conn: WarehouseConnection, landing_dir: Path, *, full: bool = False) -> PurgeResult:
    """Delete what consent no longer allows; record counts (never keys) in consent.purge_log.

    Daily by default (the patients changed since the checkpoint); `full`: compare every
    stored pair (reconciliation, see the module docstring for when).
    """
    plan = _plan(conn, full=full)
    pairs = plan.pairs
    # Landing first: if the database step fails, the plan (read from the database, the
    # checkpoint unmoved) still finds the pairs next time; the other order could leave
    # landing files behind.
    rewritten = _rewrite_landing(landing_dir, pairs) if pairs else 0
    rows: dict[str, int] = {}
    with conn.transaction():
        if pairs:
            for table, column in purgeable_tables(conn):
                rows[table] = _delete_pairs(conn, table, column, pairs)
            rows.update(_erase_derived(conn, pairs))
        result = PurgeResult(
            pairs=len(pairs),
            patients=len({key for key, _ in pairs}),
            hospitals=len({code for _, code in pairs}),
            rows=rows,
            landing_files_rewritten=rewritten,
            full=plan.full,
        )
        if pairs:
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
        _move_checkpoint(conn, plan.through_event_id)
    reclaimed, pending = _reclaim(conn, sorted(t for t, n in rows.items() if n))
    if pending:
        # Counts only: which tables still hold deleted bytes until their owner's VACUUM.
        log.warning("purge_reclaim_pending", tables=len(pending))
    return replace(result, reclaimed=reclaimed, reclaim_pending=pending)
