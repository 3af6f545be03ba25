"""Schema drift: a source's columns changed since its last loaded extract.

Each connector says what its source looked like (Extract.source_schema: per file, table or
resource type, the columns it had). Compared with what the hospital's last loaded batch had,
a change meets the hospital's policy (registry YAML `schema_drift`): `freeze` (the default)
quarantines the batch with reason `schema_drift`, naming the change, until someone looks;
`evolve` loads it, records the change in ops.schema_change and raises an operations alert.
A column the contract needs is the connector's to demand (missing_column), under either
policy. A hospital's first batch sets the baseline. Only a loaded batch moves the baseline,
so a frozen hospital stays quarantined until the source goes back or the policy says evolve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from warehouse.storage.protocol import WarehouseConnection

REASON_CODE = "schema_drift"


@dataclass(frozen=True)
class SchemaChange:
    source: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    source_added: bool = False
    source_removed: bool = False

    def describe(self) -> str:
        if self.source_added:
            return f"{self.source}: new source"
        if self.source_removed:
            return f"{self.source}: source no longer sent"
        parts = []
        if self.added:
            parts.append(f"added {', '.join(self.added)}")
        if self.removed:
            parts.append(f"removed {', '.join(self.removed)}")
        return f"{self.source}: " + "; ".join(parts)


def compare(
    previous: dict[str, tuple[str, ...]], current: dict[str, tuple[str, ...]]
) -> list[SchemaChange]:
    """What changed, source by source (column order is no change: sources are read by name)."""
    if not previous:
        return []  # the first batch sets the baseline
    changes = []
    for source in sorted(previous.keys() | current.keys()):
        if source not in previous:
            changes.append(SchemaChange(source, source_added=True))
        elif source not in current:
            changes.append(SchemaChange(source, source_removed=True))
        else:
            before, now = previous[source], current[source]
            added = tuple(c for c in now if c not in before)
            removed = tuple(c for c in before if c not in now)
            if added or removed:
                changes.append(SchemaChange(source, added, removed))
    return changes


def describe(changes: list[SchemaChange]) -> str:
    return "source columns changed since the last loaded extract: " + "; ".join(
        change.describe() for change in changes
    )


def last_loaded(conn: WarehouseConnection, hospital_code: str) -> dict[str, tuple[str, ...]]:
    rows = conn.execute(
        "SELECT source, columns FROM ops.source_schema WHERE hospital_code = ?", [hospital_code]
    ).fetchall()
    return {source: tuple(json.loads(columns)) for source, columns in rows}


def record_loaded(
    conn: WarehouseConnection,
    hospital_code: str,
    extract_date: date,
    schema: dict[str, tuple[str, ...]],
    changes: list[SchemaChange],
    policy: str,
    now: datetime,
) -> None:
    """In the batch's load transaction: the new baseline, and the changes it was loaded with."""
    if not schema:
        return  # a connector that does not describe its source
    conn.execute("DELETE FROM ops.source_schema WHERE hospital_code = ?", [hospital_code])
    conn.executemany(
        "INSERT INTO ops.source_schema VALUES (?, ?, ?, ?, ?)",
        [
            [hospital_code, source, json.dumps(list(columns)), extract_date, now]
            for source, columns in sorted(schema.items())
        ],
    )
    conn.execute(
        "DELETE FROM ops.schema_change WHERE hospital_code = ? AND extract_date = ?",
        [hospital_code, extract_date],
    )
    conn.executemany(
        "INSERT INTO ops.schema_change VALUES (?, ?, ?, ?, ?, ?)",
        [
            [hospital_code, extract_date, change.source, change.describe(), policy, now]
            for change in changes
        ],
    )
