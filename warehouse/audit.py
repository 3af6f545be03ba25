"""The access audit: one append-only, hash-chained row per request touching patient data.

Each row stores sha256(prev_hash + canonical row), so changing or removing a row breaks the
chain from there on. Removing the newest rows leaves a valid but shorter chain: that is why
the chain head (sequence number and hash) is exported outside the database at intervals, as
lines appended to HEALTHLINK_HOME/audit-head/heads.jsonl; `verify` checks the table against
every exported head. Rows are written in the caller's transaction, so a read and its audit
row commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warehouse.db import WarehouseConnection

GENESIS_HASH = "0" * 64
HEAD_FILE = "heads.jsonl"

AUDIT_DDL = [
    "CREATE SCHEMA IF NOT EXISTS audit",
    """CREATE TABLE IF NOT EXISTS audit.access_log (
        access_id BIGINT PRIMARY KEY, occurred_at TIMESTAMP NOT NULL, physician_licence VARCHAR,
        physician_hospital_code VARCHAR, action VARCHAR NOT NULL, patient_key VARCHAR,
        returned_patients VARCHAR, categories VARCHAR, source_hospitals VARCHAR,
        purpose VARCHAR, outcome VARCHAR NOT NULL, break_glass BOOLEAN NOT NULL,
        reason VARCHAR, prev_hash VARCHAR NOT NULL, row_hash VARCHAR NOT NULL)""",
]

# Column order of the canonical form; row_hash is derived, so it is not part of it.
CHAINED_COLUMNS = (
    "access_id",
    "occurred_at",
    "physician_licence",
    "physician_hospital_code",
    "action",
    "patient_key",
    "returned_patients",
    "categories",
    "source_hospitals",
    "purpose",
    "outcome",
    "break_glass",
    "reason",
    "prev_hash",
)


@dataclass
class AuditEntry:
    """What one request did: who, for which patient, what came back, and how it ended."""

    action: str
    outcome: str
    physician_licence: str | None = None
    physician_hospital_code: str | None = None
    patient_key: str | None = None
    returned_patients: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    source_hospitals: list[str] = field(default_factory=list)
    purpose: str = "treatment"
    break_glass: bool = False
    reason: str | None = None


def ensure_audit_schema(conn: WarehouseConnection) -> None:
    """DuckDB only: on PostgreSQL the table and its append function are the migration's
    (warehouse/migrations/003 and 006), and the API role may not create anything in audit."""
    if conn.dialect == "postgres":
        return
    for statement in AUDIT_DDL:
        conn.execute(statement)


def canonical(row: dict[str, Any]) -> str:
    """The exact text that is hashed: fixed column order, ISO timestamps, no whitespace."""
    values = []
    for column in CHAINED_COLUMNS:
        value = row[column]
        if isinstance(value, datetime):
            # Naive values are UTC already; PostgreSQL returns timestamptz in the session zone.
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            value = value.isoformat(timespec="microseconds")
        values.append(value)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def _joined(values: list[str]) -> str:
    return ",".join(sorted(set(values)))


def append(conn: WarehouseConnection, entry: AuditEntry) -> int:
    """Add one row inside the caller's transaction; returns its sequence number."""
    values = asdict(entry)
    if conn.dialect == "postgres":
        return _append_postgres(conn, values)
    # DuckDB: one writer per file (the file lock), so reading the last hash is race-free.
    last = conn.execute(
        "SELECT access_id, row_hash FROM audit.access_log ORDER BY access_id DESC LIMIT 1"
    ).fetchone()
    seq, prev_hash = (int(last[0]) + 1, last[1]) if last else (1, GENESIS_HASH)
    row: dict[str, Any] = {
        "access_id": seq,
        "occurred_at": datetime.now(UTC).replace(tzinfo=None),
        "physician_licence": values["physician_licence"],
        "physician_hospital_code": values["physician_hospital_code"],
        "action": values["action"],
        "patient_key": values["patient_key"],
        "returned_patients": _joined(values["returned_patients"]),
        "categories": _joined(values["categories"]),
        "source_hospitals": _joined(values["source_hospitals"]),
        "purpose": values["purpose"],
        "outcome": values["outcome"],
        "break_glass": values["break_glass"],
        "reason": values["reason"],
        "prev_hash": prev_hash,
    }
    row["row_hash"] = chain_hash(prev_hash, row)
    columns = list(row)
    conn.execute(
        f"INSERT INTO audit.access_log ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )
    return seq


def _append_postgres(conn: WarehouseConnection, values: dict[str, Any]) -> int:
    """The API role cannot read the log, so the chain is extended by the SECURITY DEFINER
    function audit.append_access (migration 006): lock, previous hash, sha256, insert."""
    row = conn.execute(
        "SELECT audit.append_access(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            values["action"],
            values["outcome"],
            values["physician_licence"],
            values["physician_hospital_code"],
            values["patient_key"],
            _joined(values["returned_patients"]),
            _joined(values["categories"]),
            _joined(values["source_hospitals"]),
            values["purpose"],
            values["break_glass"],
            values["reason"],
        ],
    ).fetchone()
    return int(row[0])


def read_rows(conn: WarehouseConnection) -> list[dict[str, Any]]:
    columns = [*CHAINED_COLUMNS, "row_hash"]
    rows = conn.execute(
        f"SELECT {', '.join(columns)} FROM audit.access_log ORDER BY access_id"
    ).fetchall()
    return [dict(zip(columns, r, strict=True)) for r in rows]


def current_head(conn: WarehouseConnection) -> tuple[int, str]:
    if conn.dialect == "postgres":  # the API role may not read the log: definer function
        seq, row_hash = conn.execute(
            "SELECT access_id, row_hash FROM audit.chain_head()"
        ).fetchone()
        return int(seq), str(row_hash)
    last = conn.execute(
        "SELECT access_id, row_hash FROM audit.access_log ORDER BY access_id DESC LIMIT 1"
    ).fetchone()
    return (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)


def export_head(conn: WarehouseConnection, head_dir: Path) -> tuple[int, str]:
    """Append the committed head to the export file (outside the database)."""
    seq, row_hash = current_head(conn)
    head_dir.mkdir(parents=True, exist_ok=True)
    line = {"seq": seq, "row_hash": row_hash, "exported_at": datetime.now(UTC).isoformat()}
    with (head_dir / HEAD_FILE).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
    return seq, row_hash


class HeadExporter:
    """Exports the head after a commit when the interval has passed (0: after every commit)."""

    def __init__(self, head_dir: Path, interval_seconds: float) -> None:
        self.head_dir = head_dir
        self.interval_seconds = interval_seconds
        self._last = float("-inf")
        self._lock = threading.Lock()

    def maybe_export(self, conn: WarehouseConnection) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.interval_seconds:
                return
            export_head(conn, self.head_dir)
            self._last = now


def exported_heads(head_dir: Path) -> list[dict[str, Any]]:
    path = head_dir / HEAD_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@dataclass
class VerifyResult:
    rows: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: WarehouseConnection, head_dir: Path) -> VerifyResult:
    """Recompute the chain and compare it with every exported head.

    Problems name sequence numbers only, never the content of a row.
    """
    rows = read_rows(conn)
    problems: list[str] = []
    prev_hash = GENESIS_HASH
    expected_seq = 1
    by_seq = {}
    for row in rows:
        seq = int(row["access_id"])
        if seq != expected_seq:
            problems.append(f"missing records: sequence {expected_seq} to {seq - 1} (deleted)")
        if row["prev_hash"] != prev_hash:
            problems.append(f"record {seq}: link to the previous record is broken")
        if chain_hash(row["prev_hash"], row) != row["row_hash"]:
            problems.append(f"record {seq}: content does not match its hash (modified)")
        by_seq[seq] = row["row_hash"]
        prev_hash = row["row_hash"]
        expected_seq = seq + 1
    last_seq = expected_seq - 1
    for head in exported_heads(head_dir):
        seq = int(head["seq"])
        if seq == 0:
            continue
        if seq > last_seq:
            problems.append(f"exported head {seq} is beyond the last record {last_seq} (truncated)")
        elif seq in by_seq and by_seq[seq] != head["row_hash"]:
            problems.append(f"record {seq}: hash differs from the exported head (modified)")
    return VerifyResult(rows=len(rows), problems=sorted(set(problems), key=problems.index))
