"""The Health Link consent rules (DESIGN.md sections 3 and 6), as pure checks.

Each check takes the current state and the time of the request and either returns the event
to append or raises ConsentRefused. Nothing here touches a database, so every rule is tested
directly, including the Bangkok day boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from expectations.national_id import is_valid_thai_national_id
from warehouse.clock import as_utc, bangkok_day
from warehouse.consent.errors import ConsentRefused
from warehouse.consent.model import Event, PatientState, SenderChoice
from warehouse.hospital_registry import Registry

ADULT_AGE = 18
# Health Link is for holders of a Thai national ID card: ID categories (first digit) 1-5 and 8.
# Categories 6 and 7 are non-Thai residents and their children born in Thailand; their IDs are
# valid (the pipeline keeps their rows in extracts) but they do not register (issue 9 #10).
THAI_CARD_CATEGORIES = frozenset("123458")


@dataclass(frozen=True)
class Participation:
    """What the hospital registry says on one day: known networks, participating hospitals."""

    networks: frozenset[str]
    hospitals: dict[str, str]  # participating hospital code -> network code
    per_visit: frozenset[str]  # participating hospitals that require per-visit consent

    @classmethod
    def from_registry(cls, registry: Registry, day: date) -> Participation:
        participating = registry.participating(day)
        return cls(
            networks=frozenset(registry.networks),
            hospitals={h.hospital_code: h.network for h in participating},
            per_visit=frozenset(
                h.hospital_code for h in participating if registry.requires_per_visit_consent(h)
            ),
        )

    def covered(self, choice: SenderChoice) -> set[str]:
        """The participating hospitals a choice resolves to."""
        return {code for code, network in self.hospitals.items() if choice.covers(code, network)}


@dataclass(frozen=True)
class Registration:
    """A verified registration as the citizen app reports it.

    `verified_national_id` is the identity the app verified (the person holding the phone);
    it must be the patient's own: nobody registers on someone else's behalf.
    """

    national_id: str
    birth_date: date
    verification_method: str
    verified_at: datetime
    verified_national_id: str
    choice: SenderChoice
    sensitive_allowed: bool = False


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def validate_choice(choice: SenderChoice, participation: Participation) -> None:
    if choice.scope == "ALL":
        return
    if not choice.networks and not choice.hospitals:
        raise ConsentRefused("empty_choice", "Choose ALL, or at least one network or hospital.")
    unknown = sorted(choice.networks - participation.networks)
    if unknown:
        raise ConsentRefused(
            "unknown_network", f"Network(s) {', '.join(unknown)} are not in the registry."
        )
    outside = sorted(choice.hospitals - participation.hospitals.keys())
    if outside:
        raise ConsentRefused(
            "not_participating",
            f"Hospital(s) {', '.join(outside)} do not participate in Health Link.",
        )


def check_registration(
    registration: Registration,
    existing: PatientState | None,
    patient_key: str,
    participation: Participation,
    now: datetime,
    recorded_by: str,
    *,
    national_id_checked: bool = False,
) -> Event:
    """`national_id_checked`: the caller validated the ID already (the bulk import does it
    vectorised for the whole file)."""
    if not national_id_checked and not is_valid_thai_national_id(registration.national_id):
        raise ConsentRefused("invalid_national_id", "The national ID is not a valid Thai ID.")
    if registration.national_id[:1] not in THAI_CARD_CATEGORIES:
        raise ConsentRefused(
            "not_thai_card", "Registration is open to holders of a Thai national ID card only."
        )
    if registration.verified_national_id != registration.national_id:
        raise ConsentRefused(
            "not_self", "Only the verified person may register, for themselves only."
        )
    if not registration.verification_method.strip() or as_utc(registration.verified_at) > as_utc(
        now
    ):
        raise ConsentRefused(
            "verification_missing", "The identity verification method and time are required."
        )
    if age_on(registration.birth_date, bangkok_day(now)) < ADULT_AGE:
        raise ConsentRefused("under_age", "Registration is open from the 18th birthday.")
    if existing is not None:
        raise ConsentRefused(
            "already_registered", "This person is already registered; change the choice instead."
        )
    validate_choice(registration.choice, participation)
    return Event(
        event_type="registered",
        patient_key=patient_key,
        occurred_at=as_utc(now),
        payload={
            "choice": registration.choice.to_payload(),
            "sensitive_allowed": registration.sensitive_allowed,
        },
        recorded_by=recorded_by,
        verification_method=registration.verification_method.strip(),
        verified_at=as_utc(registration.verified_at),
    )


def _require_registered(state: PatientState | None) -> PatientState:
    if state is None:
        raise ConsentRefused("not_registered", "This person has not registered with Health Link.")
    return state


def _require_active(state: PatientState | None) -> PatientState:
    state = _require_registered(state)
    if not state.active:
        raise ConsentRefused("withdrawn", "The consent is withdrawn; rejoin first.")
    return state


def check_sources_change(
    state: PatientState | None,
    choice: SenderChoice,
    participation: Participation,
    now: datetime,
    recorded_by: str,
) -> Event:
    current = _require_active(state)
    validate_choice(choice, participation)
    if choice == current.choice:
        raise ConsentRefused("unchanged", "The sender list is already exactly this.")
    if current.list_set_on == bangkok_day(now):
        raise ConsentRefused(
            "changed_today",
            "The sender list can change once per day (Asia/Bangkok); try again tomorrow.",
        )
    return Event(
        event_type="sources_changed",
        patient_key=current.patient_key,
        occurred_at=as_utc(now),
        payload={"choice": choice.to_payload()},
        recorded_by=recorded_by,
    )


def check_withdrawal(state: PatientState | None, now: datetime, recorded_by: str) -> Event:
    current = _require_registered(state)
    if not current.active:
        raise ConsentRefused("already_withdrawn", "The consent is already withdrawn.")
    return Event("withdrawn", current.patient_key, as_utc(now), recorded_by=recorded_by)


def check_rejoin(
    state: PatientState | None,
    choice: SenderChoice | None,
    sensitive_allowed: bool,
    participation: Participation,
    now: datetime,
    recorded_by: str,
) -> Event:
    current = _require_registered(state)
    if current.active or current.withdrawn_at is None:
        raise ConsentRefused("not_withdrawn", "The consent is active; there is nothing to rejoin.")
    if bangkok_day(current.withdrawn_at) >= bangkok_day(now):
        raise ConsentRefused(
            "rejoin_same_day", "Rejoining is possible from the day after withdrawing (Bangkok)."
        )
    chosen = choice if choice is not None else current.choice
    validate_choice(chosen, participation)
    return Event(
        "rejoined",
        current.patient_key,
        as_utc(now),
        payload={"choice": chosen.to_payload(), "sensitive_allowed": sensitive_allowed},
        recorded_by=recorded_by,
    )


def check_sensitive(
    state: PatientState | None, allowed: bool, now: datetime, recorded_by: str
) -> Event:
    current = _require_active(state)
    return Event(
        "sensitive_changed",
        current.patient_key,
        as_utc(now),
        payload={"allowed": allowed},
        recorded_by=recorded_by,
    )
