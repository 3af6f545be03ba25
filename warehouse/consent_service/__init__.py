"""The consent service (issue 4): an append-only event log, the rules, and their effects.

Public API; see docs/consent.md for the rules, the event model and the day boundary.
"""

from warehouse.consent_service.cohort import CohortChanges, cohort_changes
from warehouse.consent_service.errors import REASONS, ConsentRefused
from warehouse.consent_service.history import who_could_see, who_could_see_all
from warehouse.consent_service.hospitals import record_hospital_joined
from warehouse.consent_service.model import Event, PatientState, SenderChoice, fold
from warehouse.consent_service.notifications import notifications, notify
from warehouse.consent_service.per_visit import (
    PerVisitRequest,
    approve,
    decline,
    expire_requests,
    request_access,
    requests_of,
)
from warehouse.consent_service.purge import PurgeResult, purge, purge_plan
from warehouse.consent_service.rules import Participation, Registration
from warehouse.consent_service.service import (
    change_sources,
    current_state,
    register,
    rejoin,
    set_sensitive,
    withdraw,
)
from warehouse.consent_service.storage import ensure_consent_tables, load_events

__all__ = [
    "REASONS",
    "CohortChanges",
    "ConsentRefused",
    "Event",
    "Participation",
    "PatientState",
    "PerVisitRequest",
    "PurgeResult",
    "Registration",
    "SenderChoice",
    "approve",
    "change_sources",
    "cohort_changes",
    "current_state",
    "decline",
    "ensure_consent_tables",
    "expire_requests",
    "fold",
    "load_events",
    "notifications",
    "notify",
    "purge",
    "purge_plan",
    "record_hospital_joined",
    "register",
    "rejoin",
    "request_access",
    "requests_of",
    "set_sensitive",
    "who_could_see",
    "who_could_see_all",
    "withdraw",
]
