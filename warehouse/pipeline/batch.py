"""One hospital's batch for one extract date: extract, consent filter, validate, land, load.

The same function serves the Airflow task and `healthlink ingest`. Work that does not
touch the warehouse (parsing, filtering, validating, landing) runs without the DuckDB
writer lock, so hospitals can be processed in parallel; the lock is taken twice, briefly:
to read the consent state and to load.

Accounting, per entity and per batch: rows read = loaded + rejected + filtered by consent
(+ quarantined, when the batch is quarantined whole). It is checked before anything loads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from connectors.base import (
    Connector,
    Extract,
    ExtractError,
    Reject,
    SourceFile,
    reject_hashes,
)
from connectors.registry import build_connector
from expectations.national_id import valid_national_id_mask
from expectations.validate import (
    RowLocation,
    line_location,
    reject_rate_exceeded,
    validate_entity,
)
from warehouse.clock import storage_now, to_storage
from warehouse.consent import sender_choice
from warehouse.hospital_registry import Hospital
from warehouse.pipeline import deletions, history, landing, metrics_snapshot, ops, schema_drift
from warehouse.pipeline.content_hash import with_content_hash
from warehouse.pipeline.landing import LandedBatch
from warehouse.pipeline.load import load_batch, refresh_statistics
from warehouse.pipeline.ops import BatchSummary, EntityCounts
from warehouse.pseudonym import patient_keys
from warehouse.settings import Settings, get_settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import landed_schema

log = structlog.get_logger(__name__)


class AccountingError(RuntimeError):
    """Rows went missing between stages: a bug, never a data problem."""


@contextmanager
def _stage(summary: BatchSummary, name: str) -> Iterator[None]:
    """Add the block's wall time to `summary.stage_seconds[name]` when it completes (a stage
    that raises, such as a parse ending in quarantine, records no time)."""
    started = time.perf_counter()
    yield
    seconds = summary.stage_seconds
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started


@dataclass
class ConsentFiltered:
    table: pa.Table
    rejects: list[Reject]
    filtered: int


@dataclass
class Checked:
    """What the consent filter and validation made of an extract, entity by entity."""

    accepted: dict[str, pa.Table] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    critical: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BatchPatients:
    """The readable national IDs of a batch, every entity's, and their patient keys: the
    keys are made once per patient (an entity repeats the patients of another), and they are
    all the consent state a batch needs to ask about."""

    national_ids: pa.Array = field(repr=False)  # distinct; never in a log or an error
    keys: pa.Array  # the patient key of each of national_ids, in the same order

    @classmethod
    def of(cls, tables: Iterable[pa.Table], pseudonym_key: bytes) -> BatchPatients:
        distinct = [pc.unique(t.column("cid")) for t in tables if t.num_rows]
        ids = (
            pc.unique(pa.chunked_array(distinct, pa.string()))
            if distinct
            else pa.array([], pa.string())
        )
        readable = ids.filter(valid_national_id_mask(ids))
        return cls(readable, patient_keys(readable, pseudonym_key))

    def keys_of(self, national_ids: pa.ChunkedArray) -> pa.Array:
        """The patient keys of readable national IDs of the batch's tables."""
        positions = pc.index_in(national_ids, value_set=self.national_ids)
        keys = pc.take(self.keys, positions)
        return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


def apply_consent(
    entity: str,
    table: pa.Table,
    allowed_keys: pa.Array,
    patients: BatchPatients,
    source_field: Callable[[str, str], str],
    row_location: RowLocation = line_location,
) -> ConsentFiltered:
    """Reject rows whose national ID cannot be read; drop rows of non-consenting patients.

    Replaces the national ID by the pseudonymous patient key (the patient entity keeps
    the ID, which search needs). `patients` are those of the batch `table` belongs to.
    """
    readable = valid_national_id_mask(table.column("cid"))
    readable_rows = table.filter(readable)
    keys = patients.keys_of(readable_rows.column("cid"))
    consenting = pc.is_in(keys, value_set=allowed_keys)
    kept = readable_rows.filter(consenting).append_column("patient_key", keys.filter(consenting))
    if entity != "patient":
        kept = kept.drop_columns(["cid"])
    return ConsentFiltered(
        table=kept,
        rejects=_unreadable_id_rejects(entity, table, readable, source_field, row_location),
        filtered=readable_rows.num_rows - kept.num_rows,
    )


def _unreadable_id_rejects(
    entity: str,
    table: pa.Table,
    readable: pa.Array,
    source_field: Callable[[str, str], str],
    row_location: RowLocation,
) -> list[Reject]:
    unreadable = pc.indices_nonzero(pc.invert(readable))
    if not len(unreadable):
        return []
    files = table.column("source_file").take(unreadable).to_pylist()
    lines = table.column("source_line").take(unreadable).to_pylist()
    keys = table.column("record_key").take(unreadable).to_pylist()
    hashes = reject_hashes(entity, table, unreadable)
    rejects = []
    for file, line, key, row_hash in zip(files, lines, keys, hashes, strict=True):
        name = source_field(file, "cid")
        rejects.append(
            Reject(
                entity=entity,
                location=row_location(file, line, key),
                field=name,
                rule="national_id_readable",
                reason=f"{name} is missing or fails the Thai national ID check digit",
                row_hash=row_hash,
            )
        )
    return rejects


def _file_records(files: list[SourceFile]) -> list[dict[str, Any]]:
    return [{"name": f.name, "sha256": f.sha256, "size_bytes": f.size_bytes} for f in files]


def _quarantined_files(error: ExtractError, extract_dir: Path | None) -> list[dict[str, Any]]:
    """The files as the connector hashed them; when it stopped before hashing (a missing
    file), what is in the folder, hashed here, so ops can check it again later."""
    if error.files is not None:
        return _file_records(error.files)
    if extract_dir is None:  # a database or FHIR source: its window is recorded instead
        return []
    present = sorted(p for p in extract_dir.glob("*") if p.is_file())
    return _file_records([SourceFile.of(p.name, p.read_bytes()) for p in present])


def _finish(summary: BatchSummary) -> None:
    summary.finished_at = storage_now()
    assert summary.started_at is not None
    summary.duration_s = round((summary.finished_at - summary.started_at).total_seconds(), 3)


def _quarantine(
    settings: Settings,
    summary: BatchSummary,
    run_id: str,
    reason_code: str,
    reason: str,
    files: list[dict[str, Any]],
    *,
    rejects: tuple[str, list[Reject]] | None = None,
) -> BatchSummary:
    """Record the quarantine; with `rejects` (batch id, records) they commit in the same
    transaction, so a crash can never leave rejects without the quarantine that explains them."""
    summary.status = "quarantined"
    summary.reason_code = reason_code
    summary.reason = reason
    summary.rows_quarantined = summary.rows_read - summary.rows_rejected - summary.rows_filtered
    summary.rows_loaded = 0
    _finish(summary)
    with connect(settings) as conn:
        with conn.transaction():
            if rejects is not None:
                batch_id, records = rejects
                ops.record_rejects(
                    conn, summary.hospital_code, summary.extract_date, batch_id, records
                )
            ops.record_batch(conn, summary, run_id)
            ops.record_quarantine(conn, summary, files)
        metrics_snapshot.refresh(conn, settings)
    log.warning(
        "batch_quarantined",
        hospital=summary.hospital_code,
        extract_date=str(summary.extract_date),
        reason_code=reason_code,
    )
    return summary


def effective_reject_threshold(
    override: float | None, hospital: Hospital, settings: Settings
) -> float:
    """The first threshold that is set: the caller's, the hospital's YAML, the default.
    0 is a threshold (quarantine on any reject), not "unset"."""
    for threshold in (override, hospital.reject_threshold):
        if threshold is not None:
            return threshold
    return settings.reject_threshold


@dataclass(frozen=True)
class HospitalState:
    """What a batch's checks read from the warehouse, in one connection: which of the batch's
    patients consent to this hospital sending, and the source schema of its last loaded batch."""

    allowed: pa.Array
    last_schema: dict[str, tuple[str, ...]]

    @classmethod
    def read(cls, settings: Settings, hospital_code: str, patients: BatchPatients) -> HospitalState:
        with connect(settings) as conn:
            return cls(
                sender_choice.allowed_patient_keys(conn, hospital_code, patients.keys),
                schema_drift.last_loaded(conn, hospital_code),
            )


def _check(
    extract: Extract,
    connector: Connector,
    summary: BatchSummary,
    patients: BatchPatients,
    allowed: pa.Array,
) -> Checked:
    """Consent filter and validation, entity by entity, with the accounting checked."""
    unreadable_lines: dict[str, list[Reject]] = {}
    for line in extract.rejected:
        unreadable_lines.setdefault(line.entity, []).append(line)
    checked = Checked()
    for entity, table in extract.tables.items():
        counts = summary.entities.setdefault(entity, EntityCounts())
        entity_rejects = unreadable_lines.get(entity, [])
        counts.rows_read = table.num_rows + len(entity_rejects)
        counts.rows_rejected = len(entity_rejects)
        checked.rejects.extend(entity_rejects)

        with _stage(summary, "consent_filter"):
            filtered = apply_consent(
                entity,
                table,
                allowed,
                patients,
                connector.source_field,
                connector.row_location,
            )
        counts.rows_filtered = filtered.filtered
        counts.rows_rejected += len(filtered.rejects)
        checked.rejects.extend(filtered.rejects)

        with _stage(summary, "validate"):
            validation = validate_entity(
                entity,
                filtered.table,
                summary.extract_date,
                connector.source_field,
                connector.row_location,
            )
        checked.critical.extend(f"{entity}: {failure}" for failure in validation.critical_failures)
        counts.rows_rejected += validation.rejected_row_count
        checked.rejects.extend(validation.rejects)
        checked.documents[entity] = validation.document
        counts.rows_loaded = validation.accepted.num_rows
        checked.accepted[entity] = validation.accepted

        if counts.rows_read != counts.rows_loaded + counts.rows_rejected + counts.rows_filtered:
            raise AccountingError(f"{summary.hospital_code} {entity}: rows read do not add up")
    _add_up(summary)
    return checked


def _add_up(summary: BatchSummary) -> None:
    for counts in summary.entities.values():
        summary.rows_read += counts.rows_read
        summary.rows_loaded += counts.rows_loaded
        summary.rows_rejected += counts.rows_rejected
        summary.rows_filtered += counts.rows_filtered


def _judge(summary: BatchSummary, checked: Checked, threshold: float) -> tuple[str, str] | None:
    """(reason code, reason) when the batch must be quarantined whole, else None."""
    if checked.critical:
        return "critical_expectation", "; ".join(checked.critical)
    if not reject_rate_exceeded(
        summary.rows_read, summary.rows_rejected, summary.rows_filtered, threshold
    ):
        return None
    considered = summary.rows_read - summary.rows_filtered
    rate = summary.rows_rejected / considered if considered else 0.0
    return "reject_rate", (
        f"{summary.rows_rejected} of {considered} rows rejected ({rate:.1%}), "
        f"over the hospital's threshold of {threshold:.1%}; see ops.reject"
    )


@dataclass(frozen=True)
class Drift:
    """The extract's source schema against the last loaded one, and the hospital's policy."""

    schema: dict[str, tuple[str, ...]]
    changes: list[schema_drift.SchemaChange]
    policy: str

    def verdict(self) -> tuple[str, str] | None:
        if self.changes and self.policy == "freeze":
            return schema_drift.REASON_CODE, schema_drift.describe(self.changes)
        return None


def _drift(previous: dict[str, tuple[str, ...]], hospital: Hospital, extract: Extract) -> Drift:
    changes = schema_drift.compare(previous, extract.source_schema)
    return Drift(extract.source_schema, changes, hospital.schema_drift)


def _land(
    settings: Settings, summary: BatchSummary, batch_id: str, accepted: dict[str, pa.Table]
) -> LandedBatch:
    to_land = {
        entity: with_content_hash(table)
        .select(landed_schema(entity).names)
        .cast(landed_schema(entity))
        for entity, table in accepted.items()
    }
    return landing.land(
        settings.landing_dir, summary.hospital_code, summary.extract_date, batch_id, to_land
    )


def _load(
    settings: Settings,
    summary: BatchSummary,
    run_id: str,
    batch_id: str,
    landed: LandedBatch,
    checked: Checked,
    drift: Drift,
    history_fulfilled: list[str],
    deleted: list[str],
) -> int:
    """One transaction: raw, the source's deletions (`deleted`: record key prefixes), the
    batch record, its rejects, validation documents, the source's schema as loaded and the
    history requests the batch answered. Then the deleted records' earlier landing copies go.
    Returns the raw rows the deletions removed."""
    summary.status = "loaded"
    code, day = summary.hospital_code, summary.extract_date
    assert summary.started_at is not None
    with connect(settings) as conn:
        with conn.transaction():
            load_batch(conn, landed.files, code, day, summary.started_at)
            removed = deletions.record_deletions(conn, code, day, batch_id, deleted)
            _finish(summary)
            ops.record_batch(conn, summary, run_id)
            ops.record_rejects(conn, code, day, batch_id, checked.rejects)
            ops.record_validation(conn, code, day, checked.documents)
            assert summary.finished_at is not None
            schema_drift.record_loaded(
                conn, code, day, drift.schema, drift.changes, drift.policy, summary.finished_at
            )
            history.mark_fulfilled(conn, code, day, history_fulfilled)
        refresh_statistics(conn, landed.files)  # after commit: the planner sees the new rows
        # After the commit: should it fail, a re-run of the day finds the same tombstones.
        deletions.rewrite_landing(conn, settings.landing_dir, code, day)
        metrics_snapshot.refresh(conn, settings)
    return removed


def sync_batch(
    hospital: Hospital,
    extract_date: date,
    *,
    extract_dir: Path | None = None,
    run_id: str = "manual",
    reject_threshold: float | None = None,
    settings: Settings | None = None,
) -> BatchSummary:
    """Parse → consent filter and validate → judge → land → load; a quarantine stops it."""
    settings = settings or get_settings()
    connector = build_connector(hospital.connector)
    extract_dir = extract_dir or connector.extract_dir(extract_date)
    window = connector.window(extract_date)
    threshold = effective_reject_threshold(reject_threshold, hospital, settings)
    summary = BatchSummary(
        hospital_code=hospital.hospital_code,
        extract_date=extract_date,
        status="running",
        started_at=storage_now(),  # also the received_at of content seen for the first time
        window_start=to_storage(window.start) if window else None,
        window_end=to_storage(window.end) if window else None,
    )
    try:
        with _stage(summary, "parse"):
            extract = connector.read(hospital.hospital_code, extract_dir, extract_date)
            # A source that can be asked sends pending history requests in the same batch.
            served = history.serve(connector, extract, settings)
            extract = served.extract
    except ExtractError as error:
        files = _quarantined_files(error, extract_dir)
        return _quarantine(settings, summary, run_id, error.reason_code, str(error), files)
    summary.batch_id = extract.batch_id

    with _stage(summary, "consent_filter"):
        pseudonym_key = settings.pseudonym_key.get_secret_value().encode("utf-8")
        patients = BatchPatients.of(extract.tables.values(), pseudonym_key)
    # Read once the extract is parsed (the consent current at load time, docs/consent.md): a
    # withdrawal recorded while the source was being read still keeps its rows out.
    state = HospitalState.read(settings, hospital.hospital_code, patients)
    checked = _check(extract, connector, summary, patients, state.allowed)
    drift = _drift(state.last_schema, hospital, extract)
    verdict = _judge(summary, checked, threshold) or drift.verdict()
    if verdict is not None:
        reason_code, reason = verdict
        # A critical failure says the batch is wrong as a whole: its row rejects mean nothing.
        rejects = (extract.batch_id, checked.rejects) if reason_code == "reject_rate" else None
        files = _file_records(extract.files)
        return _quarantine(settings, summary, run_id, reason_code, reason, files, rejects=rejects)

    with _stage(summary, "land"):
        landed = _land(settings, summary, extract.batch_id, checked.accepted)
    summary.landing_path = str(landed.directory)
    deleted = [connector.deleted_record_key(location) for location in extract.deleted]
    summary.rows_deleted = len(deleted)  # applied only by a load: a quarantine deletes nothing
    with _stage(summary, "load"):
        removed = _load(
            settings,
            summary,
            run_id,
            extract.batch_id,
            landed,
            checked,
            drift,
            served.fulfilled,
            deleted,
        )
    if deleted:
        # Counts only: a record key names a patient's record.
        log.info(
            "source_deletions_applied",
            hospital=hospital.hospital_code,
            extract_date=str(extract_date),
            deleted=len(deleted),
            raw_rows_removed=removed,
        )
    log.info(
        "batch_loaded",
        hospital=hospital.hospital_code,
        extract_date=str(extract_date),
        rows_read=summary.rows_read,
        rows_loaded=summary.rows_loaded,
        rows_rejected=summary.rows_rejected,
        rows_filtered=summary.rows_filtered,
    )
    return summary


def record_failure(
    hospital_code: str,
    extract_date: date,
    run_id: str,
    error: BaseException,
    settings: Settings | None = None,
) -> None:
    """An unexpected error: recorded by type only (a message could quote data), then re-raised."""
    now = storage_now()
    summary = BatchSummary(
        hospital_code=hospital_code,
        extract_date=extract_date,
        status="failed",
        reason_code="unexpected_error",
        reason=f"{type(error).__name__} (see the task log)",
        started_at=now,
        finished_at=now,
    )
    settings = settings or get_settings()
    with connect(settings) as conn:
        with conn.transaction():
            ops.record_batch(conn, summary, run_id)
        metrics_snapshot.refresh(conn, settings)
