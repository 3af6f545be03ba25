"""What a physician reads, each read audited (warehouse.api.audited): patient search (by
national ID or name), the record (per-visit gated; break-glass) and FHIR $everything.

The routers (warehouse/api/routers/patients.py, fhir.py) resolve the session and shape the
answer; these functions do the read and write its audit row in the same transaction. A
withdrawn patient and a key that never existed both come back as None.
"""

from __future__ import annotations

from typing import Any

from warehouse.api import search, visit_access
from warehouse.api.audited import Audit, audited
from warehouse.api.context import ApiContext
from warehouse.api.gate import set_physician
from warehouse.api.records import PatientRecordData, read_record
from warehouse.api.sessions import PhysicianSession
from warehouse.storage.connection import WarehouseConnection


def search_patients(
    context: ApiContext,
    conn: WarehouseConnection,
    physician: PhysicianSession,
    *,
    national_id: str | None = None,
    names: tuple[str, str] | None = None,
    page: int,
    page_size: int,
) -> search.SearchPage:
    """One page of visible patients by national ID (exact) or (first, last) name."""
    if national_id is None:
        context.name_index.ensure(conn)  # rebuilt only after a sync
    with audited(context, conn, physician) as audit:
        if national_id is not None:
            hits = search.by_national_id(conn, national_id)
        else:
            assert names is not None
            hits = search.by_name(conn, *names)
        found = search.paginate(hits, page, page_size)
        audit.record(
            "search_by_id" if national_id is not None else "search_by_name",
            "ok",
            returned_patients=[h["patient_key"] for h in found.items],
        )
    return found


def fhir_search(
    context: ApiContext,
    conn: WarehouseConnection,
    physician: PhysicianSession,
    national_id: str,
) -> list[dict[str, Any]]:
    """Every visible patient with this national ID (FHIR Patient/_search)."""
    with audited(context, conn, physician) as audit:
        hits = search.by_national_id(conn, national_id)
        audit.record("fhir_search", "ok", returned_patients=[h["patient_key"] for h in hits])
    return hits


def _gated_read(
    context: ApiContext,
    conn: WarehouseConnection,
    physician: PhysicianSession,
    patient_key: str,
    *,
    break_glass: bool = False,
) -> PatientRecordData | None:
    """The record as this physician may see it now (inside the caller's transaction)."""
    assert physician.hospital_code is not None  # physician_session(ready=True)
    set_physician(conn, physician.licence, physician.hospital_code)
    return read_record(
        conn,
        context.record_gate,
        patient_key,
        break_glass=break_glass,
        fact_columns=context.record_fact_columns(conn),
    )


def _record_audit(
    audit: Audit, action: str, patient_key: str, record: PatientRecordData | None, **fields: Any
) -> None:
    audit.record(
        action,
        "ok" if record is not None else "not_found",
        patient_key=patient_key,
        categories=record.returned_categories if record else [],
        source_hospitals=record.returned_hospitals if record else [],
        **fields,
    )


def patient_record(
    context: ApiContext,
    conn: WarehouseConnection,
    physician: PhysicianSession,
    patient_key: str,
    *,
    reason: str | None,
) -> PatientRecordData | None:
    """The record with each hospital's consent status; with a (normalised) `reason`, a
    break-glass read: per-visit-gated data without approval, flagged in the audit, and the
    patient notified."""
    break_glass = reason is not None
    assert physician.hospital_code is not None  # physician_session(ready=True)
    with audited(context, conn, physician) as audit:
        record = _gated_read(context, conn, physician, patient_key, break_glass=break_glass)
        if record is not None:
            with context.consent_service(conn) as consent_conn:
                visit_access.apply_statuses(
                    consent_conn,
                    record,
                    physician.licence,
                    physician.hospital_code,
                    break_glass=break_glass,
                )
        opened = [h.hospital_code for h in record.hospitals if not h.gate_open] if record else []
        _record_audit(
            audit,
            "break_glass_record" if break_glass else "record",
            patient_key,
            record,
            purpose="emergency" if break_glass else "treatment",
            break_glass=break_glass,
            reason=reason,
        )
        if record is not None and reason is not None:
            # The patient's own notification list (consent.notification). On PostgreSQL
            # it commits on its own, before the audit row: better told of an opening
            # whose audit then failed than not told at all.
            with context.consent_service(conn) as consent_conn:
                visit_access.notify_break_glass(
                    consent_conn,
                    patient_key,
                    physician.licence,
                    physician.hospital_code,
                    reason,
                    opened,
                )
    return record


def fhir_everything(
    context: ApiContext,
    conn: WarehouseConnection,
    physician: PhysicianSession,
    patient_key: str,
) -> tuple[PatientRecordData | None, str | None]:
    """The record (per-visit gate applied, no break-glass) and the patient's national ID."""
    with audited(context, conn, physician) as audit:
        record = _gated_read(context, conn, physician, patient_key)
        national_id = None
        if record is not None:
            row = conn.execute(
                "SELECT cid FROM published.patient WHERE patient_key = ?", [patient_key]
            ).fetchone()
            national_id = row[0] if row else None
        _record_audit(audit, "fhir_everything", patient_key, record)
    return record, national_id
