"""Reading FHIR datatypes into contract values: references, instants, dates, codes.

FHIR times carry their zone; the contract's timestamps are naive Asia/Bangkok wall time,
so every dateTime with a time is converted to Bangkok and its date taken there. A value
that is present but cannot be read gives None and the caller marks the column invalid.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from connectors.window import BANGKOK

Resource = dict[str, Any]
_ABSENT = object()


# Asia/Bangkok has been UTC+7, without daylight saving, since 1 April 1920 (tzdata).
_BANGKOK_OFFSET: Final = timedelta(hours=7)
_FIXED_OFFSET_SINCE: Final = datetime(1920, 4, 1, tzinfo=UTC)


class Unreadable(ValueError):
    """A present value that cannot be read; the caller names the canonical column."""


class ForeignCode(ValueError):
    """Coded, but in no system the contract's column takes: an RxNorm code is not a TMT code
    even when it has as many digits, so it is never passed on as one."""


def reference_id(reference: Any, resource_type: str) -> str | None:
    """`Patient/123` (or an absolute URL ending so, or `urn:uuid:123`) -> `123`."""
    if not isinstance(reference, dict):
        return None
    text = reference.get("reference")
    if not isinstance(text, str):
        return None
    if text.startswith("urn:uuid:"):
        return text[len("urn:uuid:") :]
    parts = text.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type and "?" not in text:
        return parts[-1]
    return None


def last_updated(resource: Resource) -> Any:
    """meta.lastUpdated as sent (None when meta is absent or not an object)."""
    meta = resource.get("meta")
    return meta.get("lastUpdated") if isinstance(meta, dict) else None


def local_moment(text: Any) -> datetime | None:
    """A dateTime or instant as naive Bangkok time; a bare date means its midnight."""
    if text is None:
        return None
    if not isinstance(text, str) or len(text) < 10:
        raise Unreadable  # a year or year-month is not a moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Unreadable from None
    if moment.tzinfo is None:
        if "T" in text:
            raise Unreadable  # FHIR requires a zone whenever a time is given
        return moment
    if moment >= _FIXED_OFFSET_SINCE:  # zoneinfo's conversion is the slowest step of a read
        return (moment - moment.utcoffset() + _BANGKOK_OFFSET).replace(tzinfo=None)  # type: ignore[operator]
    return moment.astimezone(BANGKOK).replace(tzinfo=None)


def local_date(text: Any) -> date | None:
    """The Bangkok date of a date or dateTime."""
    moment = local_moment(text)
    return moment.date() if moment is not None else None


def first(values: Any) -> Any:
    """The first element of a FHIR list (None when absent or empty)."""
    return values[0] if isinstance(values, list) and values else None


def concept_text(concept: Any) -> str | None:
    """What a CodeableConcept says to people: its text, else its first coding's display."""
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return str(concept["text"])
    coding = first(concept.get("coding"))
    return coding.get("display") if isinstance(coding, dict) else None


def pick_code(concept: Any, systems: Iterable[str]) -> str | None:
    """The code from the first of `systems` the concept carries (any system when `systems`
    is empty). Raises ForeignCode when it is coded, but in none of them."""
    return pick_coding(concept, systems)[1]


def pick_coding(concept: Any, systems: Iterable[str]) -> tuple[str | None, str | None]:
    """(system, code) of the coding pick_code picks; (None, None) when there is none."""
    if not isinstance(concept, dict):
        return None, None
    listed = concept.get("coding")
    codings = (
        [c for c in listed if isinstance(c, dict) and c.get("code") not in (None, "")]
        if isinstance(listed, list)
        else []
    )
    systems = tuple(systems)
    if not systems:
        return (codings[0].get("system"), str(codings[0]["code"])) if codings else (None, None)
    for system in systems:
        for coding in codings:
            if coding.get("system") == system:
                return system, str(coding["code"])
    if codings:
        raise ForeignCode
    return None, None


def has_code(concept: Any, system: str | None, codes: Iterable[str]) -> bool:
    """Whether a CodeableConcept (or a list of them) holds one of `codes` (in `system`)."""
    concepts = concept if isinstance(concept, list) else [concept]
    wanted = set(codes)
    for item in concepts:
        codings = item.get("coding") if isinstance(item, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
                continue
            if coding["code"] in wanted and (system is None or coding.get("system") == system):
                return True
    return False


def actor_id(participants: Any, key: str = "actor") -> str | None:
    """The id of the first participant's actor (Practitioner/123 -> 123, or its identifier)."""
    participant = first(participants) if isinstance(participants, list) else participants
    if not isinstance(participant, dict):
        return None
    actor = participant.get(key, participant)
    if not isinstance(actor, dict):
        return None
    reference = actor.get("reference")
    if isinstance(reference, str) and "?identifier=" in reference:
        return reference.rsplit("|", 1)[-1]  # a conditional reference: the identifier's value
    if isinstance(reference, str):
        return reference.rstrip("/").rsplit("/", 1)[-1]
    identifier = actor.get("identifier")
    if isinstance(identifier, dict) and identifier.get("value"):
        return str(identifier["value"])
    return None


def number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unreadable
    return float(value)
