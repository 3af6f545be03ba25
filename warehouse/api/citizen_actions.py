"""The citizen app's consent calls as services: one consent-service call for the patient the
token names, audited either way as the patient's own action (warehouse.api.audited).

A refusal comes back as the warehouse.consent.ConsentRefused it was, for the router to
answer (warehouse/api/routers/citizen_consent.py). A call for a key other than the caller's
is refused before any consent call, exactly as a patient who never registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from warehouse.api.audited import audited
from warehouse.api.context import ApiContext
from warehouse.consent import ConsentRefused
from warehouse.storage.connection import WarehouseConnection

# One body for "no such patient" and "not yours": the two must not be told apart.
NOT_REGISTERED = "not_registered"
NOT_REGISTERED_MESSAGE = "This person has not registered."

T = TypeVar("T")


def act(
    context: ApiContext,
    patient_key: str,
    audit_action: str,
    action: Callable[[WarehouseConnection], T] | None,
) -> T | ConsentRefused:
    """Run `action` on the consent service for `patient_key` (the token's subject); None:
    refused before any, as not theirs."""
    with context.connect() as conn:
        result: T | ConsentRefused
        try:
            if action is None:
                raise ConsentRefused(NOT_REGISTERED, NOT_REGISTERED_MESSAGE)
            with context.consent_service(conn) as consent_conn:
                result, outcome = action(consent_conn), "ok"
        except ConsentRefused as refusal:
            code = refusal.reason_code
            result = refusal
            outcome = "not_found" if code == NOT_REGISTERED else f"refused:{code}"
        with audited(context, conn) as audit:
            audit.record(audit_action, outcome, patient_key=patient_key, purpose="citizen_app")
    return result
