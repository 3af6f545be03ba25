"""Consent's effect on the sync's input: each hospital's cohort, new versus continuing.

A patient is newly consenting to a hospital when they may send now but could not at some
moment since the last sync (registration, rejoining, the hospital added to their choice, the
hospital joining Health Link under an ALL or network choice, or a withdrawal in between,
after which their rows were purged). Those patients need a full-history request; the others
are incremental (docs/consent.md, "Full history").

Only patients with an event after `since` can be newly consenting (anyone else stood where
they stand now), so the log is read for them alone: `read_log_since` once per `since`, shared
by every hospital. The exception is a hospital that joined after `since`: its whole cohort is
new, read from the projection tables.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from warehouse.clock import as_utc
from warehouse.consent import storage
from warehouse.consent.model import Event, PatientState, apply_event, fold
from warehouse.consent.sender_choice import allows_sql
from warehouse.storage.protocol import WarehouseConnection

# Events after which a patient's data must come in full even if the hospital was allowed.
_RESTARTS = ("registered", "rejoined")


@dataclass(frozen=True)
class CohortChanges:
    hospital_code: str
    newly_consenting: list[str]  # patient keys needing a full-history extract
    continuing: list[str]  # patient keys served by incremental extracts
    hospital_joined: bool = False  # the hospital itself joined since: its whole cohort is new


@dataclass(frozen=True)
class ConsentPath:
    """One patient from `since` on: the state at `since`, then the state after each event."""

    at_since: PatientState | None
    after: list[tuple[str, PatientState]]  # (event type, state after it), in log order

    @property
    def now(self) -> PatientState | None:
        return self.after[-1][1] if self.after else self.at_since


@dataclass(frozen=True)
class LogSince:
    """What the log says since `since`: the paths of the patients with a later event, and
    when each hospital joined (its first hospital_joined event)."""

    since: datetime
    paths: dict[str, ConsentPath]
    joined_at: dict[str, datetime]


def _joined_at(conn: WarehouseConnection) -> dict[str, datetime]:
    joined: dict[str, datetime] = {}
    rows = conn.execute(
        "SELECT payload, occurred_at FROM consent.event WHERE event_type = 'hospital_joined'"
        " ORDER BY event_id"
    ).fetchall()
    for payload, occurred_at in rows:
        joined.setdefault(json.loads(payload)["hospital_code"], as_utc(occurred_at))
    return joined


def paths_since(events: list[Event], since: datetime) -> dict[str, ConsentPath]:
    """Each patient's path from `since` on, for the patients with an event after it.

    `events` in log order. The state at `since` folds the events that occurred by then; the
    later ones follow in log order (a bulk import may log a past registration late).
    """
    since_utc = as_utc(since)
    histories: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.patient_key is not None:
            histories[event.patient_key].append(event)
    paths: dict[str, ConsentPath] = {}
    for key, history in histories.items():
        later = [e for e in history if as_utc(e.occurred_at) > since_utc]
        if not later:
            continue
        state = fold([e for e in history if as_utc(e.occurred_at) <= since_utc]).get(key)
        at_since, after = state, []
        for event in later:
            new = apply_event(state, event)
            if new is not None:
                state = new
                after.append((event.event_type, new))
        paths[key] = ConsentPath(at_since, after)
    return paths


def read_log_since(conn: WarehouseConnection, since: datetime) -> LogSince:
    """The part of the log that can make anyone newly consenting since `since`."""
    events = storage.load_events_of_patients_active_since(conn, as_utc(since))
    return LogSince(as_utc(since), paths_since(events, since), _joined_at(conn))


def _network_of(conn: WarehouseConnection, hospital_code: str) -> str | None:
    row = conn.execute(
        "SELECT network_code FROM consent.hospital WHERE hospital_code = ?", [hospital_code]
    ).fetchone()
    return row[0] if row else None


# The projection's answer to SenderChoice.covers for one hospital (its network may be NULL).
_ALLOWED_NOW_SQL = (
    f"SELECT c.patient_key FROM consent.patient_consent AS c WHERE {allows_sql('c', '?', '?')}"
)


class _Cohort:
    """One hospital against a LogSince."""

    def __init__(self, conn: WarehouseConnection, hospital_code: str, log: LogSince) -> None:
        self.conn = conn
        self.hospital_code = hospital_code
        self.network = _network_of(conn, hospital_code)
        self.log = log
        joined_at = log.joined_at.get(hospital_code)
        self.hospital_joined = joined_at is not None and joined_at > log.since

    def allowed(self, state: PatientState | None) -> bool:
        return (
            state is not None
            and state.active
            and state.choice.covers(self.hospital_code, self.network)
        )

    def newly_among_changed(self) -> set[str]:
        """Allowed now, and not allowed at `since` or at some moment after, or restarted."""
        return {
            key
            for key, path in self.log.paths.items()
            if self.allowed(path.now)
            and (
                not self.allowed(path.at_since)
                or any(not self.allowed(s) or kind in _RESTARTS for kind, s in path.after)
            )
        }

    def allowed_now(self) -> set[str]:
        """The whole cohort (O(cohort), SQL): the unchanged from the projection, the
        changed from their paths."""
        rows = self.conn.execute(_ALLOWED_NOW_SQL, [self.hospital_code, self.network]).fetchall()
        unchanged = {key for (key,) in rows} - self.log.paths.keys()
        return unchanged | {k for k, p in self.log.paths.items() if self.allowed(p.now)}


def newly_consenting(
    conn: WarehouseConnection, hospital_code: str, log: LogSince
) -> tuple[list[str], bool]:
    """(patient keys needing a full history from the hospital, whether it joined since).

    Reads only the patients in `log` unless the hospital joined since (then: its cohort).
    """
    cohort = _Cohort(conn, hospital_code, log)
    if cohort.hospital_joined:
        return sorted(cohort.allowed_now()), True
    return sorted(cohort.newly_among_changed()), False


def cohort_changes(
    conn: WarehouseConnection, hospital_code: str, since: datetime, log: LogSince | None = None
) -> CohortChanges:
    """Patients who may send to `hospital_code` now, split by whether that is new since `since`.

    `continuing` lists the whole cohort, read from the projection tables; the daily sync
    needs only `newly_consenting` (see `newly_consenting`). `log`: `read_log_since(conn,
    since)`, when the caller already read it.
    """
    log = read_log_since(conn, since) if log is None else log
    if log.since != as_utc(since):
        raise ValueError("the log was read for another `since`")
    cohort = _Cohort(conn, hospital_code, log)
    allowed = cohort.allowed_now()
    newly = allowed if cohort.hospital_joined else cohort.newly_among_changed()
    return CohortChanges(
        hospital_code, sorted(newly), sorted(allowed - newly), cohort.hospital_joined
    )
