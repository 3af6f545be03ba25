"""Per-visit consent as the API sees it: statuses for the record, requests, decisions.

The rules and storage live in warehouse.consent_service (issue 4); this module only adapts
them to the physician's session and to the record's hospital sections.
"""

from __future__ import annotations

from datetime import UTC, datetime

from warehouse import consent_service
from warehouse.api.records import PatientRecordData
from warehouse.db import WarehouseConnection


def apply_statuses(
    consent_conn: WarehouseConnection,
    record: PatientRecordData,
    licence: str,
    hospital_code: str,
    *,
    break_glass: bool = False,
) -> None:
    """consented / per_visit_required / requested / declined, per source hospital.

    Whether a grant is in force is what the gate said (the section is not withheld), so the
    grant rule is not restated here; requests only tell "requested" from "declined".
    """
    latest: dict[str, str] = {}
    now = datetime.now(UTC)
    gated = any(not section.gate_open for section in record.hospitals)
    requests = (
        consent_service.requests_of(consent_conn, record.patient["patient_key"])
        if gated and not break_glass
        else []
    )
    for request in requests:
        if (
            request.physician_licence != licence
            or request.physician_hospital_code != hospital_code
            or request.expires_at <= now
        ):
            continue
        for source in request.source_hospitals:
            latest[source] = request.status  # requests_of is ordered oldest first
    for section in record.hospitals:
        if section.gate_open:
            section.consent_status = "consented"
        elif break_glass:
            section.consent_status = "break_glass"
        elif latest.get(section.hospital_code) == "pending":
            section.consent_status = "requested"
        elif latest.get(section.hospital_code) == "declined":
            section.consent_status = "declined"
        else:
            section.consent_status = "per_visit_required"
