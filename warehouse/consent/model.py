"""The consent domain: sender choices, events, and the state a patient's events fold into.

Pure data and pure functions (no database): the storage layer appends events and writes the
projection of `apply_event`, the tests replay the same events through a separate reference model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from warehouse.clock import as_utc, bangkok_day

EVENT_TYPES = (
    "registered",
    "sources_changed",
    "withdrawn",
    "rejoined",
    "sensitive_changed",
    "per_visit_requested",
    "per_visit_approved",
    "per_visit_declined",
    "per_visit_expired",
    "hospital_joined",
)
# Events that change a patient's consent state (the per-visit ones live in their own tables).
STATE_EVENTS = ("registered", "sources_changed", "withdrawn", "rejoined", "sensitive_changed")


@dataclass(frozen=True)
class SenderChoice:
    """ALL, or a set of networks and hospitals; resolved to hospitals only when read."""

    scope: Literal["ALL", "LIST"]
    networks: frozenset[str] = frozenset()
    hospitals: frozenset[str] = frozenset()

    @classmethod
    def everyone(cls) -> SenderChoice:
        return cls("ALL")

    @classmethod
    def of(
        cls, networks: set[str] | None = None, hospitals: set[str] | None = None
    ) -> SenderChoice:
        return cls("LIST", frozenset(networks or ()), frozenset(hospitals or ()))

    def covers(self, hospital_code: str, network_code: str | None) -> bool:
        return (
            self.scope == "ALL"
            or hospital_code in self.hospitals
            or (network_code is not None and network_code in self.networks)
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "networks": sorted(self.networks),
            "hospitals": sorted(self.hospitals),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> SenderChoice:
        if data["scope"] == "ALL":
            return cls.everyone()
        return cls.of(set(data.get("networks", ())), set(data.get("hospitals", ())))


@dataclass(frozen=True)
class Event:
    """One entry of consent.event. `occurred_at` is an aware UTC instant."""

    event_type: str
    patient_key: str | None
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    recorded_by: str = "system"
    verification_method: str | None = None
    verified_at: datetime | None = None
    event_id: int | None = None

    def payload_json(self) -> str:
        return json.dumps(self.payload, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class PatientState:
    """A patient's consent as of their latest event."""

    patient_key: str
    status: Literal["active", "withdrawn"]
    choice: SenderChoice
    sensitive_allowed: bool
    first_registered_at: datetime
    consenting_since: datetime  # registration or the latest rejoining ("newly consenting")
    list_set_on: date  # Bangkok day the sender list was last set (registration counts)
    changed_at: datetime
    withdrawn_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


def apply_event(state: PatientState | None, event: Event) -> PatientState | None:
    """The state after `event`; events that do not touch patient consent leave it as it is."""
    at = as_utc(event.occurred_at)
    kind = event.event_type
    if kind == "registered":
        return PatientState(
            patient_key=event.patient_key or "",
            status="active",
            choice=SenderChoice.from_payload(event.payload["choice"]),
            sensitive_allowed=bool(event.payload.get("sensitive_allowed", False)),
            first_registered_at=at,
            consenting_since=at,
            list_set_on=bangkok_day(at),
            changed_at=at,
        )
    if state is None or kind not in STATE_EVENTS:
        return state
    if kind == "sources_changed":
        choice = SenderChoice.from_payload(event.payload["choice"])
        return replace(state, choice=choice, list_set_on=bangkok_day(at), changed_at=at)
    if kind == "withdrawn":
        return replace(state, status="withdrawn", withdrawn_at=at, changed_at=at)
    if kind == "rejoined":
        return replace(
            state,
            status="active",
            choice=SenderChoice.from_payload(event.payload["choice"]),
            sensitive_allowed=bool(event.payload.get("sensitive_allowed", False)),
            consenting_since=at,
            list_set_on=bangkok_day(at),
            changed_at=at,
            withdrawn_at=None,
        )
    # sensitive_changed
    return replace(state, sensitive_allowed=bool(event.payload["allowed"]), changed_at=at)


def fold(events: list[Event]) -> dict[str, PatientState]:
    """Every patient's state after `events` (in event order)."""
    states: dict[str, PatientState] = {}
    for event in events:
        if event.patient_key is None:
            continue
        new = apply_event(states.get(event.patient_key), event)
        if new is not None:
            states[event.patient_key] = new
    return states
