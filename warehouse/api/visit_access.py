"""Per-visit consent as the API sees it: statuses for the record, the break-glass reason and
the patient's break-glass notification.

The rules and storage live in warehouse.consent (issue 4); this module only adapts
them to the physician's session and to the record's hospital sections.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from warehouse import consent
from warehouse.api.records import PatientRecordData
from warehouse.storage.connection import WarehouseConnection


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
        consent.requests_of(consent_conn, record.patient["patient_key"])
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


# A break-glass reason must say something: at least this many visible characters after
# normalisation, and not one character (or two) repeated.
REASON_MIN_CHARACTERS = 10
REASON_MIN_DISTINCT = 4
REASON_MAX_CHARACTERS = 1000


class ReasonRefused(ValueError):
    """Why a break-glass reason is refused (the message never repeats the reason)."""


def normalise_break_glass_reason(text: str) -> str:
    """The reason as it is audited and shown to the patient, or ReasonRefused.

    NFC, then every control, format (zero-width spaces and joiners, bidi marks...), private-use,
    surrogate and unassigned character removed, every run of separators (spaces of every
    width, line breaks, tabs) made one space, both ends stripped. What is left must hold at
    least REASON_MIN_CHARACTERS characters and REASON_MIN_DISTINCT different ones, spaces
    not counted (Thai combining vowels and tone marks count: they are written text).
    """
    kept: list[str] = []
    for character in unicodedata.normalize("NFC", text):
        category = unicodedata.category(character)
        if character.isspace() or category[0] == "Z":
            kept.append(" ")
        elif category[0] != "C":
            kept.append(character)
    reason = re.sub(" +", " ", "".join(kept)).strip()
    visible = reason.replace(" ", "")
    if len(visible) < REASON_MIN_CHARACTERS:
        raise ReasonRefused(
            f"the reason must say why, in at least {REASON_MIN_CHARACTERS} visible characters"
        )
    if len(set(visible.casefold())) < REASON_MIN_DISTINCT:
        raise ReasonRefused("the reason must say why, not repeat a few characters")
    if len(reason) > REASON_MAX_CHARACTERS:
        raise ReasonRefused(f"the reason is longer than {REASON_MAX_CHARACTERS} characters")
    return reason


def notify_break_glass(
    consent_conn: WarehouseConnection,
    patient_key: str,
    licence: str,
    hospital_code: str,
    reason: str,
    opened_hospitals: list[str],
) -> None:
    """Tell the patient, in the citizen app's notification list, who opened their record in
    an emergency, from where, why, and which hospitals' data it showed."""
    payload: dict[str, Any] = {
        "physician_licence": licence,
        "physician_hospital_code": hospital_code,
        "reason": reason,
        "source_hospitals": sorted(opened_hospitals),
    }
    with consent_conn.transaction():
        consent.notify(consent_conn, patient_key, "break_glass", payload)
