"""The access audit: one append-only, keyed, chained row per request touching patient data.

Threat: someone who can write to the warehouse (a service role, a DBA) but is not root on
every host. Each row stores row_hash = HMAC-SHA256(key, prev_hash + canonical row), and the
key (HEALTHLINK_AUDIT_KEY) never enters the database: the API computes the HMAC, the
database only serialises appends and hands back the next sequence number and the previous
hash under its lock (PostgreSQL: audit.next_link / audit.append_link, migration 009; DuckDB:
the file's single writer). A writer without the key can delete or change rows but cannot
make a changed, renumbered or forged row verify.

Deleting the newest rows leaves a valid but shorter chain, so after EVERY committed append
the head (sequence, hash, time) is appended to a sink outside the warehouse
(HEALTHLINK_AUDIT_HEAD_SINK; default `<home>-audit/heads.jsonl`, a sibling of the state
directory): one JSON line per head, opened O_APPEND and fsynced, each line HMAC-signed and
chained to the line before, so lines cannot be rewritten or removed from the middle either.
Production puts the sink on storage with a retention lock (docs/security.md).

Rows written before the key existed (the unkeyed sha256 chain of migration 006) stay as
they are: the first keyed entry is an `chain_anchor` row whose reason holds the last unkeyed
row's sequence and hash. `verify` checks the unkeyed part with sha256 up to it and the keyed
part with the HMAC from it on.

Rows are written in the caller's transaction, so a read and its audit row commit together
or not at all; the head is exported after that commit (`export_committed`).
"""

from __future__ import annotations

import contextvars
import fcntl
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from warehouse.settings import Settings, get_settings
from warehouse.storage.connection import WarehouseConnection

GENESIS_HASH = "0" * 64
ANCHOR_ACTION = "chain_anchor"
_ROW_DOMAIN = b"healthlink.audit.row.v1"
_HEAD_DOMAIN = b"healthlink.audit.head.v1"
MIN_KEY_BYTES = 16

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


class AuditKeyError(ValueError):
    """HEALTHLINK_AUDIT_KEY is missing, too short, or the development key outside development."""


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


@dataclass(frozen=True)
class ChainHead:
    seq: int
    row_hash: str


# -- keys and hashes ---------------------------------------------------------------------


def signing_key(settings: Settings) -> bytes:
    """The audit key; the development default is refused unless the environment says so."""
    from warehouse.settings import DEVELOPMENT_AUDIT_KEY

    key = settings.audit_key.get_secret_value()
    if settings.environment != "development" and key == DEVELOPMENT_AUDIT_KEY:
        raise AuditKeyError(
            "HEALTHLINK_AUDIT_KEY must be set unless HEALTHLINK_ENVIRONMENT=development"
        )
    if len(key.encode("utf-8")) < MIN_KEY_BYTES:
        raise AuditKeyError(f"HEALTHLINK_AUDIT_KEY must be at least {MIN_KEY_BYTES} bytes")
    return key.encode("utf-8")


def _subkey(key: bytes, domain: bytes) -> bytes:
    """Separate keys for rows and heads: a row MAC can never pass as a head MAC."""
    return hmac.new(key, domain, hashlib.sha256).digest()


def canonical(row: dict[str, Any]) -> str:
    """The exact text that is hashed: fixed column order, ISO timestamps, no whitespace."""
    values: list[object] = []
    for column in CHAINED_COLUMNS:
        value = row[column]
        if isinstance(value, datetime):
            # Naive values are UTC already; PostgreSQL returns timestamptz in the session zone.
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            value = value.isoformat(timespec="microseconds")
        values.append(value)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def legacy_chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The unkeyed chain of migration 006 (rows before the anchor)."""
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def keyed_chain_hash(key: bytes, prev_hash: str, row: dict[str, Any]) -> str:
    message = (prev_hash + canonical(row)).encode("utf-8")
    return hmac.new(_subkey(key, _ROW_DOMAIN), message, hashlib.sha256).hexdigest()


def _joined(values: list[str]) -> str:
    return ",".join(sorted(set(values)))


# -- appending -----------------------------------------------------------------------------


@dataclass
class RequestMark:
    """Set when a request wrote its own audit row (refusals.record_refusal then skips it)."""

    written: bool = False


_request_mark: contextvars.ContextVar[RequestMark | None] = contextvars.ContextVar(
    "healthlink_audit_request_mark", default=None
)


def track_request() -> RequestMark:
    """Start tracking the current request (call from the event loop, before the endpoint
    runs: the worker thread of a sync endpoint gets a copy of this context)."""
    mark = RequestMark()
    _request_mark.set(mark)
    return mark


# Heads appended by this thread and not exported yet: exported after the caller's commit.
_pending = threading.local()


def _next_link(conn: WarehouseConnection) -> tuple[int, str, bool]:
    """Next sequence number, previous hash, and whether the keyed chain is anchored; on
    PostgreSQL under the append lock, held until the caller's transaction ends."""
    if conn.dialect == "postgres":
        seq, prev_hash, anchored = conn.execute(
            "SELECT next_seq, prev_hash, anchored FROM audit.next_link()"
        ).fetchone()
        return int(seq), str(prev_hash), bool(anchored)
    # DuckDB: one writer per file (the file lock), so these reads are race-free.
    last = conn.execute(
        "SELECT access_id, row_hash FROM audit.access_log ORDER BY access_id DESC LIMIT 1"
    ).fetchone()
    anchored = conn.execute(
        "SELECT count(*) FROM audit.access_log WHERE action = ?", [ANCHOR_ACTION]
    ).fetchone()[0]
    if last is None:
        return 1, GENESIS_HASH, bool(anchored)
    return int(last[0]) + 1, str(last[1]), bool(anchored)


def _row(seq: int, prev_hash: str, entry: AuditEntry, at: datetime) -> dict[str, Any]:
    values = asdict(entry)
    return {
        "access_id": seq,
        "occurred_at": at,
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


def _insert(conn: WarehouseConnection, row: dict[str, Any]) -> None:
    columns = [*CHAINED_COLUMNS, "row_hash"]
    if conn.dialect == "postgres":
        # The API role has no privilege on the table: the definer function re-checks the
        # sequence and the previous hash under the lock, then inserts.
        conn.execute(
            f"SELECT audit.append_link({', '.join('?' for _ in columns)})",
            [row[c] for c in columns],
        )
        return
    conn.execute(
        f"INSERT INTO audit.access_log ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )


def anchor_entry(legacy_seq: int, legacy_hash: str) -> AuditEntry:
    """The first keyed entry: pins the unkeyed chain (possibly empty) under the key."""
    payload = json.dumps({"legacy_seq": legacy_seq, "legacy_hash": legacy_hash})
    return AuditEntry(action=ANCHOR_ACTION, outcome="ok", purpose="audit", reason=payload)


class AuditTrail:
    """Appends keyed rows and exports heads to the sink; one per process and key."""

    def __init__(self, key: bytes, sink: Path) -> None:
        self.key = key
        self.sink = sink

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditTrail:
        return cls(signing_key(settings), settings.audit_head_sink_path)

    def append(self, conn: WarehouseConnection, entry: AuditEntry) -> int:
        """Add one row inside the caller's transaction; returns its sequence number."""
        # Heads left by an earlier append of this thread whose transaction rolled back were
        # never committed: exporting them would contradict the rows that take their place.
        _pending.heads = []
        seq, prev_hash, anchored = _next_link(conn)
        if not anchored:  # the first keyed entry ever: anchor the unkeyed chain first
            prev_hash = self._write(conn, seq, prev_hash, anchor_entry(seq - 1, prev_hash))
            seq += 1
        self._write(conn, seq, prev_hash, entry)
        mark = _request_mark.get()
        if mark is not None:
            mark.written = True
        return seq

    def ensure_anchored(self, conn: WarehouseConnection) -> None:
        """At start: anchor the unkeyed chain (if not done yet) before the first request, so
        every request adds exactly one row."""
        _pending.heads = []
        with conn.transaction():
            seq, prev_hash, anchored = _next_link(conn)
            if not anchored:
                self._write(conn, seq, prev_hash, anchor_entry(seq - 1, prev_hash))
        self.export_committed()

    def _write(self, conn: WarehouseConnection, seq: int, prev_hash: str, entry: AuditEntry) -> str:
        at = datetime.now(UTC)
        at = at if conn.dialect == "postgres" else at.replace(tzinfo=None)
        row = _row(seq, prev_hash, entry, at)
        row["row_hash"] = keyed_chain_hash(self.key, prev_hash, row)
        _insert(conn, row)
        _pending.heads = [*getattr(_pending, "heads", []), (self, ChainHead(seq, row["row_hash"]))]
        return str(row["row_hash"])

    def export_committed(self, conn: WarehouseConnection | None = None) -> None:
        """After the caller's commit: export the heads this thread appended (the thread's
        next append drops those of a transaction that rolled back)."""
        heads: list[tuple[AuditTrail, ChainHead]] = getattr(_pending, "heads", [])
        _pending.heads = []
        for trail, head in heads:
            trail.export_head(head)

    def export_head(self, head: ChainHead) -> None:
        HeadSink(self.sink, self.key).append(head)


@lru_cache(maxsize=4)
def _trail(key: bytes, sink: Path) -> AuditTrail:
    return AuditTrail(key, sink)


def default_trail(settings: Settings | None = None) -> AuditTrail:
    settings = settings or get_settings()
    return _trail(signing_key(settings), settings.audit_head_sink_path)


def append(conn: WarehouseConnection, entry: AuditEntry) -> int:
    """Add one row inside the caller's transaction with the configured key; export its head
    after the commit with `export_committed()`."""
    return default_trail().append(conn, entry)


def export_committed() -> None:
    default_trail().export_committed()


# -- the head sink -------------------------------------------------------------------------


def _head_mac(key: bytes, line: dict[str, Any]) -> str:
    message = json.dumps(
        [line["seq"], line["row_hash"], line["exported_at"], line["prev_mac"]],
        separators=(",", ":"),
    ).encode("utf-8")
    return hmac.new(_subkey(key, _HEAD_DOMAIN), message, hashlib.sha256).hexdigest()


class HeadSink:
    """One JSON line per committed head, each signed and chained to the line before.

    Appended with O_APPEND under an exclusive flock (several API workers share the file) and
    fsynced before the request answers. The process needs read access too, to chain the new
    line to the last one; an append-only file (chattr +a) or a WORM mount allows both.
    """

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self.key = key

    def append(self, head: ChainHead) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            line: dict[str, Any] = {
                "seq": head.seq,
                "row_hash": head.row_hash,
                "exported_at": datetime.now(UTC).isoformat(timespec="microseconds"),
                "prev_mac": _last_mac(fd),
            }
            line["mac"] = _head_mac(self.key, line)
            os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the flock


def _last_mac(fd: int) -> str:
    size = os.fstat(fd).st_size
    if size == 0:
        return GENESIS_HASH
    tail = os.pread(fd, min(size, 4096), max(0, size - 4096)).decode("utf-8", "replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    try:
        return str(json.loads(lines[-1])["mac"])
    except (IndexError, ValueError, KeyError, TypeError):
        return GENESIS_HASH  # a damaged last line: verify reports it; keep exporting


def read_heads(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, parsed line or None when unreadable), blank lines skipped."""
    if not path.exists():
        return
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                parsed = json.loads(raw)
            except ValueError:
                yield number, None
                continue
            yield number, parsed if isinstance(parsed, dict) else None


# -- reading and verifying -----------------------------------------------------------------


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


@dataclass
class VerifyResult:
    rows: int
    problems: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: WarehouseConnection, key: bytes, sink: Path) -> VerifyResult:
    """Recompute both chains and check every exported head.

    Problems name sequence and line numbers only, never the content of a row.
    """
    rows = read_rows(conn)
    problems: list[str] = []
    notes: list[str] = []
    anchor_at = next((i for i, r in enumerate(rows) if r["action"] == ANCHOR_ACTION), None)
    problems += _check_sequence(rows)
    legacy = rows if anchor_at is None else rows[:anchor_at]
    problems += _check_links(legacy, GENESIS_HASH, legacy_chain_hash, "its hash")
    if anchor_at is None:
        if rows:
            notes.append("no keyed records yet: the unkeyed chain is not anchored")
    else:
        problems += _check_anchor(rows[anchor_at], legacy)
        problems += _check_links(
            rows[anchor_at:],
            rows[anchor_at]["prev_hash"],
            lambda prev, row: keyed_chain_hash(key, prev, row),
            "its keyed hash",
        )
    head_problems, last_exported = _check_heads(rows, key, sink)
    problems += head_problems
    last_seq = int(rows[-1]["access_id"]) if rows else 0
    if last_seq > last_exported and anchor_at is not None:
        notes.append(f"records {last_exported + 1} to {last_seq} are after the last exported head")
    return VerifyResult(len(rows), sorted(set(problems), key=problems.index), notes)


def _check_sequence(rows: list[dict[str, Any]]) -> list[str]:
    problems = []
    expected = 1
    for row in rows:
        seq = int(row["access_id"])
        if seq != expected:
            problems.append(f"missing records: sequence {expected} to {seq - 1} (deleted)")
        expected = seq + 1
    return problems


def _check_links(
    rows: list[dict[str, Any]],
    prev_hash: str,
    hasher: Callable[[str, dict[str, Any]], str],
    what: str,
) -> list[str]:
    problems = []
    for row in rows:
        seq = int(row["access_id"])
        if row["prev_hash"] != prev_hash:
            problems.append(f"record {seq}: link to the previous record is broken")
        if not hmac.compare_digest(hasher(row["prev_hash"], row), str(row["row_hash"])):
            problems.append(f"record {seq}: content does not match {what} (modified)")
        prev_hash = row["row_hash"]
    return problems


def _check_anchor(anchor: dict[str, Any], legacy: list[dict[str, Any]]) -> list[str]:
    seq = int(anchor["access_id"])
    expected_seq = int(legacy[-1]["access_id"]) if legacy else 0
    expected_hash = str(legacy[-1]["row_hash"]) if legacy else GENESIS_HASH
    try:
        payload = json.loads(anchor["reason"] or "")
        pinned = (int(payload["legacy_seq"]), str(payload["legacy_hash"]))
    except (ValueError, KeyError, TypeError):
        return [f"record {seq}: the anchor of the unkeyed chain is unreadable (modified)"]
    if pinned != (expected_seq, expected_hash) or anchor["prev_hash"] != expected_hash:
        return [f"record {seq}: the unkeyed records before it differ from what it anchored"]
    return []


def _check_heads(rows: list[dict[str, Any]], key: bytes, sink: Path) -> tuple[list[str], int]:
    """Each line's MAC and its link to the line before; each head against the table."""
    problems = []
    by_seq = {int(r["access_id"]): str(r["row_hash"]) for r in rows}
    last_seq = max(by_seq, default=0)
    prev_mac = GENESIS_HASH
    last_exported = 0
    for number, line in read_heads(sink):
        try:
            valid = line is not None and hmac.compare_digest(_head_mac(key, line), line["mac"])
        except (KeyError, TypeError):
            valid = False
        if not valid or line is None:
            problems.append(f"head file line {number}: signature invalid (rewritten)")
            continue
        if line["prev_mac"] != prev_mac:
            problems.append(f"head file line {number}: not linked to the line before (removed)")
        prev_mac = line["mac"]
        seq = int(line["seq"])
        last_exported = max(last_exported, seq)
        if seq > last_seq:
            problems.append(f"exported head {seq} is beyond the last record {last_seq} (truncated)")
        elif by_seq.get(seq) != line["row_hash"]:
            problems.append(f"record {seq}: hash differs from the exported head (modified)")
    return problems, last_exported


# -- break-glass review ----------------------------------------------------------------------


BREAK_GLASS_COLUMNS = (
    "access_id",
    "occurred_at",
    "physician_licence",
    "physician_hospital_code",
    "patient_key",
    "reason",
    "source_hospitals",
    "outcome",
)


def break_glass_accesses(conn: WarehouseConnection, since: datetime) -> list[dict[str, Any]]:
    """Break-glass reads from `since` (UTC) on, oldest first, for ops review."""
    if conn.dialect != "postgres":
        since = since.astimezone(UTC).replace(tzinfo=None)
    rows = conn.execute(
        f"SELECT {', '.join(BREAK_GLASS_COLUMNS)} FROM audit.access_log "
        "WHERE break_glass AND occurred_at >= ? ORDER BY access_id",
        [since],
    ).fetchall()
    return [dict(zip(BREAK_GLASS_COLUMNS, r, strict=True)) for r in rows]


# -- refusals without an actor ---------------------------------------------------------------


def count_refusal(conn: WarehouseConnection, day: date, route: str, status_code: int) -> None:
    if conn.dialect == "postgres":
        # The API role may bump the counters but read nothing outside the published views.
        conn.execute("SELECT audit.count_refusal(?, ?, ?)", [day, route, status_code])
        return
    conn.execute(
        "INSERT INTO audit.refusal_count (day, route, status_code, refusals) "
        "VALUES (?, ?, ?, 1) ON CONFLICT (day, route, status_code) "
        "DO UPDATE SET refusals = refusal_count.refusals + 1",
        [day, route, status_code],
    )
