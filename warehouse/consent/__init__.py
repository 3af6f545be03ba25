"""The consent service (issue 4): an append-only event log, the rules, and their effects.

Public API; see docs/consent.md for the rules, the event model and the day boundary.
"""

from warehouse.consent.cohort import CohortChanges, cohort_changes
from warehouse.consent.errors import REASONS, ConsentRefused
from warehouse.consent.history import who_could_see, who_could_see_all
from warehouse.consent.hospitals import record_hospital_joined
from warehouse.consent.model import Event, PatientState, SenderChoice, fold
from warehouse.consent.notifications import notifications, notify
from warehouse.consent.per_visit import (
    PerVisitRequest,
    approve,
    decline,
    expire_requests,
    request_access,
    requests_of,
)
from warehouse.consent.purge import PurgeResult, purge, purge_plan
from warehouse.consent.rules import Participation, Registration
from warehouse.consent.service import (
    change_sources,
    current_state,
    register,
    rejoin,
    set_sensitive,
    withdraw,
)
from warehouse.consent.storage import load_events

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
