"""Alerts: conditions read from the ops ledger, raised once into an outbox, drained to sinks.

`raise_alerts` evaluates a day's conditions (ops.hospital_day, ops.dq_entity_day,
ops.dbt_test_result, ops.schema_change, and dbt's marts.rpt_unmapped_codes) and writes ops.alert plus one ops.alert_delivery row per route, in the
caller's transaction; the unique (condition, hospital, day) key makes a re-run raise nothing
new. `drain` sends what is pending and due; a failing sink is recorded (error class only) and
retried with backoff by a later drain, never raised, until `alert_max_attempts` attempts:
then the delivery is 'dead' and left alone (a sink that is wrong, not down, must not be
hammered for ever). Payloads hold codes and counts only.

Delivery states: pending (never tried) -> sent, or -> failed (due again at next_attempt_at)
-> sent or dead.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import structlog

from warehouse.clock import storage_now
from warehouse.hospital_registry import Registry
from warehouse.pipeline.ops import unmapped_codes_built
from warehouse.settings import Settings
from warehouse.storage.protocol import WarehouseConnection

log = structlog.get_logger(__name__)

PLATFORM = "*"  # hospital_code of an alert about the platform (dbt tests, a late run)
CONDITIONS = (
    "quarantined",
    "failed",
    "missing",
    "reject_rate",
    "sla_breached",
    "dbt_test_failed",
    "run_late",
    "schema_drift",
    "unclassified_codes",
)
DELIVERY_STATES = ("pending", "failed", "sent", "dead")
DEFAULT_WEBHOOK = "webhook:default"
DEFAULT_EMAIL = "email:default"
BASELINE_DAYS = 30


@dataclass(frozen=True)
class Alert:
    condition: str
    hospital_code: str
    extract_date: date
    count: int | None = None
    reason_code: str | None = None
    detail: str | None = None

    @property
    def alert_id(self) -> str:
        return f"{self.condition}|{self.hospital_code}|{self.extract_date.isoformat()}"


def evaluate(conn: WarehouseConnection, day: date, settings: Settings) -> list[Alert]:
    """The day's alert conditions, from the ledger."""
    alerts: list[Alert] = []
    for code, status, reason_code, rows_quarantined, rows_read in conn.execute(
        "SELECT hospital_code, status, reason_code, rows_quarantined, rows_read "
        "FROM ops.hospital_day WHERE extract_date = ? AND status IN ('quarantined', 'failed') "
        "ORDER BY hospital_code",
        [day],
    ).fetchall():
        count = rows_quarantined if status == "quarantined" else rows_read
        alerts.append(Alert(status, code, day, count, reason_code))
    first = day - timedelta(days=settings.alert_missing_days - 1)
    for code, days in conn.execute(
        "SELECT hospital_code, count(*) FROM ops.hospital_day "
        "WHERE extract_date BETWEEN ? AND ? AND status = 'missing' AND expected "
        "GROUP BY hospital_code HAVING count(*) = ? "
        "AND max(CASE WHEN extract_date = ? THEN 1 ELSE 0 END) = 1 ORDER BY hospital_code",
        [first, day, settings.alert_missing_days, day],
    ).fetchall():
        alerts.append(Alert("missing", code, day, days, "consecutive_days"))
    for code, lag_days, sla in conn.execute(
        "SELECT hospital_code, lag_days, freshness_sla_days FROM ops.hospital_day "
        "WHERE extract_date = ? AND sla_breached ORDER BY hospital_code",
        [day],
    ).fetchall():
        alerts.append(Alert("sla_breached", code, day, lag_days, "lag_days", f"sla_days={sla}"))
    alerts += _reject_rate(conn, day, settings)
    alerts += _dbt_tests(conn, day)
    alerts += _schema_drift(conn, day)
    alerts += _unclassified_codes(conn, day)
    return alerts


def _schema_drift(conn: WarehouseConnection, day: date) -> list[Alert]:
    """Sources loaded with changed columns under the `evolve` policy (a frozen hospital's
    drift is a quarantine, alerted as such). The change names columns, never values."""
    rows = conn.execute(
        "SELECT hospital_code, count(*), string_agg(change, '; ' ORDER BY source) "
        "FROM ops.schema_change WHERE extract_date = ? GROUP BY hospital_code "
        "ORDER BY hospital_code",
        [day],
    ).fetchall()
    return [Alert("schema_drift", code, day, int(n), "evolved", detail) for code, n, detail in rows]


def _unclassified_codes(conn: WarehouseConnection, day: date) -> list[Alert]:
    """Rows coded in a system no sensitivity class covers (no code_crosswalk entry, or a
    hospital-local code), counted by dbt in marts.rpt_unmapped_codes: they are hidden as
    sensitive until the crosswalk covers them (docs/consent.md). The detail names systems and
    their unclassified share, never a code or a row. Nothing before dbt's first build."""
    if not unmapped_codes_built(conn):
        return []
    rows = conn.execute(
        "SELECT hospital_code, code_system, unclassified_rows, coded_rows "
        "FROM marts.rpt_unmapped_codes "
        "WHERE extract_date = ? AND NOT is_native_system AND unclassified_rows > 0 "
        "ORDER BY hospital_code, code_system",
        [day],
    ).fetchall()
    systems: dict[str, list[tuple[str, int, int]]] = {}
    for code, system, unclassified, coded in rows:
        systems.setdefault(code, []).append((system, int(unclassified), int(coded)))
    return [
        Alert(
            "unclassified_codes",
            code,
            day,
            sum(unclassified for _, unclassified, _ in found),
            "no_class",
            "; ".join(f"{system} {n}/{coded} rows" for system, n, coded in found),
        )
        for code, found in systems.items()
    ]


def _reject_rate(conn: WarehouseConnection, day: date, settings: Settings) -> list[Alert]:
    rows = conn.execute(
        """
        WITH today AS (
            SELECT hospital_code, sum(rows_read) AS read, sum(rows_rejected) AS rejected
            FROM ops.dq_entity_day WHERE extract_date = ? GROUP BY hospital_code
        ), baseline AS (
            SELECT hospital_code,
                   CAST(sum(rows_rejected) AS DOUBLE PRECISION) / sum(rows_read) AS rate
            FROM ops.dq_entity_day WHERE extract_date >= ? AND extract_date < ?
            GROUP BY hospital_code HAVING sum(rows_read) > 0
        )
        SELECT t.hospital_code, t.read, t.rejected, b.rate
        FROM today AS t LEFT JOIN baseline AS b USING (hospital_code)
        WHERE t.read >= ? ORDER BY t.hospital_code
        """,
        [day, day - timedelta(days=BASELINE_DAYS), day, settings.alert_reject_min_rows],
    ).fetchall()
    alerts = []
    for code, read, rejected, baseline in rows:
        rate = rejected / read
        if rate < settings.alert_reject_min_rate:
            continue
        if baseline is not None and rate <= settings.alert_reject_factor * baseline:
            continue
        detail = f"rate={rate:.4f} baseline={'none' if baseline is None else f'{baseline:.4f}'}"
        alerts.append(Alert("reject_rate", code, day, int(rejected), "above_baseline", detail))
    return alerts


def _dbt_tests(conn: WarehouseConnection, day: date) -> list[Alert]:
    """The failing tests of the latest dbt build recorded (the day's build: finish_run follows
    it)."""
    row = conn.execute(
        """
        SELECT count(*) FROM ops.dbt_test_result
        WHERE status IN ('fail', 'error') AND invocation_id = (
            SELECT invocation_id FROM ops.dbt_test_result
            ORDER BY generated_at DESC LIMIT 1)
        """
    ).fetchone()
    failing = int(row[0]) if row else 0
    return [Alert("dbt_test_failed", PLATFORM, day, failing, "dbt_test")] if failing else []


def routes(alert: Alert, registry: Registry | None, settings: Settings) -> list[str]:
    """Where an alert goes: the default ops routes from settings, and the hospital's contacts
    with an alert_route (email:<code>/<contact index>, webhook:NAME)."""
    found = []
    if settings.alert_webhook_url.get_secret_value():
        found.append(DEFAULT_WEBHOOK)
    if settings.alert_email_to:
        found.append(DEFAULT_EMAIL)
    hospital = registry.hospitals.get(alert.hospital_code) if registry else None
    for index, contact in enumerate(hospital.contacts if hospital else []):
        if contact.alert_route == "email":
            found.append(f"email:{alert.hospital_code}/{index}")
        elif contact.alert_route:
            found.append(contact.alert_route)
    return list(dict.fromkeys(found))


def record_alerts(
    conn: WarehouseConnection,
    alerts: list[Alert],
    registry: Registry | None,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Write alerts and their pending deliveries; one already raised is left as it is.
    Returns how many alerts are new."""
    now = now or storage_now()
    new = 0
    with conn.transaction():
        for alert in alerts:
            exists = conn.execute(
                "SELECT 1 FROM ops.alert WHERE alert_id = ?", [alert.alert_id]
            ).fetchone()
            if exists:
                continue
            new += 1
            conn.execute(
                "INSERT INTO ops.alert VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    alert.alert_id,
                    alert.condition,
                    alert.hospital_code,
                    alert.extract_date,
                    alert.count,
                    alert.reason_code,
                    alert.detail,
                    now,
                ],
            )
            conn.executemany(
                "INSERT INTO ops.alert_delivery VALUES (?, ?, 'pending', 0, NULL, ?, NULL)",
                [[alert.alert_id, route, now] for route in routes(alert, registry, settings)],
            )
    if new:
        log.warning("alerts_raised", new=new)
    return new


def raise_alerts(
    conn: WarehouseConnection, day: date, registry: Registry | None, settings: Settings
) -> int:
    """Evaluate the day and record what is new (in the caller's transaction, if any)."""
    return record_alerts(conn, evaluate(conn, day, settings), registry, settings)


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """What a sink receives: the alert's codes and counts."""
    return {
        "source": "healthlink",
        "alert_id": row["alert_id"],
        "condition": row["condition"],
        "hospital_code": row["hospital_code"],
        "extract_date": str(row["extract_date"]),
        "count": row["count"],
        "reason_code": row["reason_code"],
        "detail": row["detail"],
    }


class RouteUnavailable(RuntimeError):
    """A route whose destination is not configured (an environment variable unset)."""


def _send_webhook(url: str, body: dict[str, Any], settings: Settings) -> None:
    response = httpx.post(url, json=body, timeout=settings.alert_timeout_s)
    response.raise_for_status()


def _send_email(to: str, body: dict[str, Any], settings: Settings) -> None:
    if not settings.smtp_host:
        raise RouteUnavailable("HEALTHLINK_SMTP_HOST is not set")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = (
        f"[Health Link] {body['condition']} {body['hospital_code']} {body['extract_date']}"
    )
    message.set_content(json.dumps(body, indent=2))
    if settings.smtp_user and not settings.smtp_starttls:
        raise RouteUnavailable("SMTP AUTH needs HEALTHLINK_SMTP_STARTTLS (no password in clear)")
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.alert_timeout_s
    ) as s:
        if settings.smtp_starttls:
            # smtplib's own default context verifies nothing: check the certificate and name.
            s.starttls(context=ssl.create_default_context(cafile=settings.smtp_ca_file))
        if settings.smtp_user:
            s.login(settings.smtp_user, _smtp_password(settings))
        s.send_message(message)


def _smtp_password(settings: Settings) -> str:
    """HEALTHLINK_SMTP_PASSWORD, else the secrets file HEALTHLINK_SMTP_PASSWORD_FILE."""
    password = settings.smtp_password.get_secret_value()
    if password or settings.smtp_password_file is None:
        return password
    try:
        return settings.smtp_password_file.read_text(encoding="utf-8").strip()
    except OSError:
        raise RouteUnavailable("the SMTP password file cannot be read") from None


def send(route: str, body: dict[str, Any], registry: Registry | None, settings: Settings) -> None:
    """Deliver one alert on one route; raises on failure."""
    if route == DEFAULT_WEBHOOK:
        _send_webhook(settings.alert_webhook_url.get_secret_value(), body, settings)
    elif route == DEFAULT_EMAIL:
        _send_email(settings.alert_email_to, body, settings)
    elif route.startswith("webhook:"):
        variable = f"HEALTHLINK_ALERT_WEBHOOK_URL_{route.removeprefix('webhook:')}"
        url = os.environ.get(variable, "")
        if not url:
            raise RouteUnavailable(f"{variable} is not set")
        _send_webhook(url, body, settings)
    elif route.startswith("email:"):
        code, _, index = route.removeprefix("email:").partition("/")
        hospital = registry.hospitals.get(code) if registry else None
        if hospital is None or not index.isdigit() or int(index) >= len(hospital.contacts):
            raise RouteUnavailable("the contact is no longer in the registry")
        email = hospital.contacts[int(index)].email
        if not email:
            raise RouteUnavailable("the contact has no email")
        _send_email(email, body, settings)
    else:
        raise RouteUnavailable("unknown route")


def backoff(attempts: int, settings: Settings) -> timedelta:
    seconds = settings.alert_backoff_s * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.alert_backoff_max_s))


def drain(
    conn: WarehouseConnection,
    registry: Registry | None,
    settings: Settings,
    now: datetime | None = None,
) -> dict[str, int]:
    """Send every pending delivery that is due; never raises for a sink. Returns counts."""
    now = now or storage_now()
    cursor = conn.execute(
        """
        SELECT d.route, d.attempts, a.* FROM ops.alert_delivery AS d
        JOIN ops.alert AS a USING (alert_id)
        WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?
        ORDER BY a.raised_at, a.alert_id, d.route
        """,
        [now],
    )
    columns = [c[0] for c in cursor.description]
    due = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    counts = {"sent": 0, "failed": 0, "dead": 0}
    for row in due:
        attempts = int(row["attempts"]) + 1
        key = [row["alert_id"], row["route"]]
        try:
            send(row["route"], payload(row), registry, settings)
        except Exception as error:  # a sink never fails the run: recorded, retried later
            state = "dead" if attempts >= settings.alert_max_attempts else "failed"
            counts[state] += 1
            error_class = type(error).__name__
            log.warning(
                "alert_delivery_dead" if state == "dead" else "alert_delivery_failed",
                condition=row["condition"],
                hospital=row["hospital_code"],
                route_kind=row["route"].partition(":")[0],
                error_type=error_class,
                attempts=attempts,
            )
            conn.execute(
                "UPDATE ops.alert_delivery SET status = ?, attempts = ?, "
                "last_error = ?, next_attempt_at = ? WHERE alert_id = ? AND route = ?",
                [state, attempts, error_class, now + backoff(attempts, settings), *key],
            )
            continue
        counts["sent"] += 1
        conn.execute(
            "UPDATE ops.alert_delivery SET status = 'sent', attempts = ?, sent_at = ? "
            "WHERE alert_id = ? AND route = ?",
            [attempts, now, *key],
        )
    return counts


def list_alerts(conn: WarehouseConnection, since: date | None) -> list[dict[str, Any]]:
    """Alerts from `since` on (all without it), each with its deliveries' status."""
    cursor = conn.execute(
        """
        SELECT a.alert_id, a.condition, a.hospital_code, a.extract_date, a.count,
               a.reason_code, a.detail, a.raised_at,
               count(d.route) AS routes,
               count(d.route) FILTER (WHERE d.status = 'sent') AS sent,
               count(d.route) FILTER (WHERE d.status = 'pending') AS pending,
               count(d.route) FILTER (WHERE d.status = 'failed') AS failed,
               count(d.route) FILTER (WHERE d.status = 'dead') AS dead,
               max(d.attempts) AS attempts, max(d.last_error) AS last_error
        FROM ops.alert AS a LEFT JOIN ops.alert_delivery AS d USING (alert_id)
        WHERE a.extract_date >= ?
        GROUP BY a.alert_id, a.condition, a.hospital_code, a.extract_date, a.count,
                 a.reason_code, a.detail, a.raised_at
        ORDER BY a.extract_date DESC, a.condition, a.hospital_code
        """,
        [since or date(1970, 1, 1)],
    )
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def alert_counts(conn: WarehouseConnection) -> dict[str, int]:
    """Alerts raised per condition (every condition, zero included: bounded labels)."""
    rows = conn.execute("SELECT condition, count(*) FROM ops.alert GROUP BY condition")
    counts = dict.fromkeys(CONDITIONS, 0)
    for condition, count in rows.fetchall():
        if condition in counts:
            counts[condition] = int(count)
    return counts


def delivery_counts(conn: WarehouseConnection) -> dict[str, int]:
    """Deliveries per state (every state, zero included: bounded labels)."""
    rows = conn.execute("SELECT status, count(*) FROM ops.alert_delivery GROUP BY status")
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    for state, count in rows.fetchall():
        if state in counts:
            counts[state] = int(count)
    return counts
