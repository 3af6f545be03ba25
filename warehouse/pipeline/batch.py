"""One hospital's batch for one extract date: extract, consent filter, validate, land, load.

The same function serves the Airflow task and `healthlink ingest`. Work that does not
touch the warehouse (parsing, filtering, validating, landing) runs without the DuckDB
writer lock, so hospitals can be processed in parallel; the lock is taken twice, briefly:
to read the consent state and to load.

Accounting, per entity and per batch: rows read = loaded + rejected + filtered by consent
(+ quarantined, when the batch is quarantined whole). It is checked before anything loads.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from connectors.base import Connector, Extract, ExtractError
from connectors.registry import build_connector
from expectations.national_id import valid_national_id_mask
from expectations.validate import reject_rate_exceeded, validate_entity
from warehouse.consent import sender_choice
from warehouse.hospital_registry import Hospital
from warehouse.pipeline import landing, ops
from warehouse.pipeline.load import load_batch, refresh_statistics
from warehouse.pipeline.ops import BatchSummary, EntityCounts
from warehouse.pipeline.rowhash import with_row_hash
from warehouse.pseudonym import patient_keys
from warehouse.settings import Settings, get_settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import landed_schema

log = structlog.get_logger(__name__)


class AccountingError(RuntimeError):
    """Rows went missing between stages: a bug, never a data problem."""


@dataclass
class ConsentFiltered:
    table: pa.Table
    rejects: list[dict[str, Any]]
    filtered: int


def _content_hash(table: pa.Table, rows: pa.Array) -> list[str]:
    """sha256 of each selected row's values, for reject records (the values are not kept)."""
    subset = table.take(rows).drop_columns(["source_file", "source_line", "batch_id"])
    return [
        hashlib.sha256(repr(sorted(row.items())).encode("utf-8")).hexdigest()
        for row in subset.to_pylist()
    ]


def apply_consent(
    entity: str,
    table: pa.Table,
    allowed_keys: pa.Array,
    pseudonym_key: bytes,
    source_field: Callable[[str, str], str],
) -> ConsentFiltered:
    """Reject rows whose national ID cannot be read; drop rows of non-consenting patients.

    Replaces the national ID by the pseudonymous patient key (the patient entity keeps
    the ID, which search needs).
    """
    cid = table.column("cid")
    readable = valid_national_id_mask(cid)
    unreadable = pc.indices_nonzero(pc.invert(readable))
    rejects = []
    if len(unreadable):
        hashes = _content_hash(table, unreadable)
        files = table.column("source_file").take(unreadable).to_pylist()
        lines = table.column("source_line").take(unreadable).to_pylist()
        for file, line, row_hash in zip(files, lines, hashes, strict=True):
            name = source_field(file, "cid")
            rejects.append(
                {
                    "entity": entity,
                    "source_file": file,
                    "source_line": line,
                    "field": name,
                    "rule": "national_id_readable",
                    "reason": f"{name} is missing or fails the Thai national ID check digit",
                    "row_hash": row_hash,
                }
            )
    readable_rows = table.filter(readable)
    keys = patient_keys(readable_rows.column("cid"), pseudonym_key)
    consenting = pc.is_in(keys, value_set=allowed_keys)
    kept = readable_rows.filter(consenting).append_column("patient_key", keys.filter(consenting))
    if entity != "patient":
        kept = kept.drop_columns(["cid"])
    return ConsentFiltered(
        table=kept, rejects=rejects, filtered=readable_rows.num_rows - kept.num_rows
    )


def _connector_rejects(extract: Extract) -> dict[str, list[dict[str, Any]]]:
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for line in extract.rejected:
        by_entity.setdefault(line.entity, []).append(
            {
                "entity": line.entity,
                "source_file": line.source_file,
                "source_line": line.source_line,
                "field": line.field,
                "rule": "line_readable",
                "reason": line.reason,
                "row_hash": line.row_hash,
            }
        )
    return by_entity


def _reject_dict(reject: Any) -> dict[str, Any]:
    return {
        name: getattr(reject, name)
        for name in ("entity", "source_file", "source_line", "field", "rule", "reason", "row_hash")
    }


def _files_record(extract_dir: Path, connector: Connector) -> list[dict[str, Any]]:
    try:
        return [
            {"name": f.name, "sha256": f.sha256, "size_bytes": f.size_bytes}
            for f in connector.discover(extract_dir)
        ]
    except ExtractError:
        # Missing files: record what is there, hashed, so ops can check it again later.
        return [
            {
                "name": p.name,
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                "size_bytes": p.stat().st_size,
            }
            for p in sorted(extract_dir.glob("*"))
            if p.is_file()
        ]


def _quarantine(
    settings: Settings,
    summary: BatchSummary,
    run_id: str,
    reason_code: str,
    reason: str,
    files: list[dict[str, Any]],
    *,
    rejects: tuple[str, list[dict[str, Any]]] | None = None,
) -> BatchSummary:
    """Record the quarantine; with `rejects` (batch id, records) they commit in the same
    transaction, so a crash can never leave rejects without the quarantine that explains them."""
    summary.status = "quarantined"
    summary.reason_code = reason_code
    summary.reason = reason
    summary.rows_quarantined = summary.rows_read - summary.rows_rejected - summary.rows_filtered
    summary.rows_loaded = 0
    summary.finished_at = datetime.now()
    summary.duration_s = round((summary.finished_at - summary.started_at).total_seconds(), 3)  # type: ignore[operator]
    with connect(settings) as conn, conn.transaction():
        if rejects is not None:
            batch_id, records = rejects
            ops.record_rejects(
                conn, summary.hospital_code, summary.extract_date, batch_id, records
            )
        ops.record_batch(conn, summary, run_id)
        ops.record_quarantine(conn, summary, files)
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


def extract_dir_for(hospital: Hospital, extract_date: date) -> Path:
    return Path(hospital.connector.path) / extract_date.isoformat()


def sync_batch(
    hospital: Hospital,
    extract_date: date,
    *,
    extract_dir: Path | None = None,
    run_id: str = "manual",
    reject_threshold: float | None = None,
    settings: Settings | None = None,
) -> BatchSummary:
    settings = settings or get_settings()
    extract_dir = extract_dir or extract_dir_for(hospital, extract_date)
    threshold = effective_reject_threshold(reject_threshold, hospital, settings)
    summary = BatchSummary(
        hospital_code=hospital.hospital_code,
        extract_date=extract_date,
        status="running",
        started_at=datetime.now(),
    )
    stage = summary.stage_seconds
    connector = build_connector(hospital.connector)

    clock = time.perf_counter()
    try:
        extract = connector.read(hospital.hospital_code, extract_dir, extract_date)
    except ExtractError as error:
        return _quarantine(
            settings,
            summary,
            run_id,
            error.reason_code,
            str(error),
            _files_record(extract_dir, connector),
        )
    stage["parse"] = time.perf_counter() - clock
    summary.batch_id = extract.batch_id
    files = [
        {"name": f.name, "sha256": f.sha256, "size_bytes": f.size_bytes} for f in extract.files
    ]

    with connect(settings) as conn:
        allowed = sender_choice.allowed_patient_keys(conn, hospital.hospital_code)

    pseudonym_key = settings.pseudonym_key.get_secret_value().encode("utf-8")
    connector_rejects = _connector_rejects(extract)
    rejects: list[dict[str, Any]] = []
    documents: dict[str, dict[str, Any]] = {}
    accepted: dict[str, pa.Table] = {}
    critical: list[str] = []
    for entity, table in extract.tables.items():
        counts = summary.entities.setdefault(entity, EntityCounts())
        entity_rejects = connector_rejects.get(entity, [])
        counts.rows_read = table.num_rows + len(entity_rejects)
        counts.rows_rejected = len(entity_rejects)
        rejects.extend(entity_rejects)

        clock = time.perf_counter()
        filtered = apply_consent(entity, table, allowed, pseudonym_key, connector.source_field)
        stage["consent_filter"] = stage.get("consent_filter", 0.0) + time.perf_counter() - clock
        counts.rows_filtered = filtered.filtered
        counts.rows_rejected += len(filtered.rejects)
        rejects.extend(filtered.rejects)

        clock = time.perf_counter()
        validation = validate_entity(entity, filtered.table, extract_date, connector.source_field)
        stage["validate"] = stage.get("validate", 0.0) + time.perf_counter() - clock
        if not validation.critical_passed:
            critical.extend(f"{entity}: {failure}" for failure in validation.critical_failures)
        counts.rows_rejected += validation.rejected_row_count
        rejects.extend(_reject_dict(r) for r in validation.rejects)
        documents[entity] = validation.document
        counts.rows_loaded = validation.accepted.num_rows
        accepted[entity] = validation.accepted

        if counts.rows_read != counts.rows_loaded + counts.rows_rejected + counts.rows_filtered:
            raise AccountingError(f"{hospital.hospital_code} {entity}: rows read do not add up")

    for counts in summary.entities.values():
        summary.rows_read += counts.rows_read
        summary.rows_loaded += counts.rows_loaded
        summary.rows_rejected += counts.rows_rejected
        summary.rows_filtered += counts.rows_filtered

    if critical:
        return _quarantine(
            settings, summary, run_id, "critical_expectation", "; ".join(critical), files
        )
    if reject_rate_exceeded(
        summary.rows_read, summary.rows_rejected, summary.rows_filtered, threshold
    ):
        considered = summary.rows_read - summary.rows_filtered
        rate = summary.rows_rejected / considered if considered else 0.0
        return _quarantine(
            settings,
            summary,
            run_id,
            "reject_rate",
            f"{summary.rows_rejected} of {considered} rows rejected ({rate:.1%}), "
            f"over the hospital's threshold of {threshold:.1%}; see ops.reject",
            files,
            rejects=(extract.batch_id, rejects),
        )

    clock = time.perf_counter()
    to_land = {
        entity: with_row_hash(table).select(landed_schema(entity).names).cast(landed_schema(entity))
        for entity, table in accepted.items()
    }
    landed = landing.land(
        settings.landing_dir, hospital.hospital_code, extract_date, extract.batch_id, to_land
    )
    stage["land"] = time.perf_counter() - clock
    summary.landing_path = str(landed.directory)

    clock = time.perf_counter()
    summary.status = "loaded"
    with connect(settings) as conn:
        with conn.transaction():
            load_batch(conn, landed.files, hospital.hospital_code, extract_date, summary.started_at)  # type: ignore[arg-type]
            summary.finished_at = datetime.now()
            summary.duration_s = round((summary.finished_at - summary.started_at).total_seconds(), 3)  # type: ignore[operator]
            ops.record_batch(conn, summary, run_id)
            ops.record_rejects(conn, hospital.hospital_code, extract_date, extract.batch_id, rejects)
            ops.record_validation(conn, hospital.hospital_code, extract_date, documents)
        refresh_statistics(conn, landed.files)  # after commit: the planner sees the new rows
    stage["load"] = time.perf_counter() - clock
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
    now = datetime.now()
    summary = BatchSummary(
        hospital_code=hospital_code,
        extract_date=extract_date,
        status="failed",
        reason_code="unexpected_error",
        reason=f"{type(error).__name__} (see the task log)",
        started_at=now,
        finished_at=now,
    )
    with connect(settings) as conn, conn.transaction():
        ops.record_batch(conn, summary, run_id)
