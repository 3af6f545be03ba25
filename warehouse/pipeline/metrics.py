"""Prometheus metrics of the daily sync, read from the ops tables at scrape time.

A custom collector, not counters kept in a process: the sync runs in Airflow workers and CLI
processes that come and go, and ops.* is where every one of them records what it did, so a
scrape sees the same numbers whichever process serves it and nothing is lost on a restart.

Labels are hospital codes and entity names only (some 1,100 hospitals x 10 entities: bounded),
never a patient, a file name or a reason text. Only ops.* is read, so on PostgreSQL the
server can connect as the read-only `healthlink_ops` role.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from warehouse.clock import bangkok_today
from warehouse.pipeline.alerts import alert_counts, delivery_counts
from warehouse.settings import Settings
from warehouse.storage.connection import WarehouseConnection, connect

# The hospital's latest loaded extract date: the day its published data is as of.
_LATEST_LOADED = (
    "SELECT hospital_code, max(extract_date) AS extract_date FROM ops.batch "
    "WHERE status = 'loaded' GROUP BY hospital_code"
)


def latest_loaded_counts(conn: WarehouseConnection) -> list[tuple[str, str, int, int]]:
    """(hospital, entity, rows loaded, rows rejected) of each hospital's latest loaded day."""
    return [
        (code, entity, int(loaded or 0), int(rejected or 0))
        for code, entity, loaded, rejected in conn.execute(
            "SELECT e.hospital_code, e.entity, e.rows_loaded, e.rows_rejected "
            f"FROM ops.batch_entity AS e JOIN ({_LATEST_LOADED}) AS l "
            "ON e.hospital_code = l.hospital_code AND e.extract_date = l.extract_date "
            "ORDER BY 1, 2"
        ).fetchall()
    ]


def data_as_of(conn: WarehouseConnection) -> dict[str, date | None]:
    """Every hospital with a batch: its latest loaded extract date (None: never loaded)."""
    rows = conn.execute(
        "SELECT b.hospital_code, l.extract_date FROM (SELECT DISTINCT hospital_code "
        f"FROM ops.batch) AS b LEFT JOIN ({_LATEST_LOADED}) AS l "
        "ON b.hospital_code = l.hospital_code ORDER BY 1"
    ).fetchall()
    return {code: day for code, day in rows}


def last_batch_durations(conn: WarehouseConnection) -> list[tuple[str, str, float]]:
    """(hospital, status, seconds) of each hospital's latest batch, whatever its outcome."""
    return [
        (code, status, float(seconds or 0.0))
        for code, status, seconds in conn.execute(
            "SELECT b.hospital_code, b.status, b.duration_s FROM ops.batch AS b JOIN ("
            "SELECT hospital_code, max(extract_date) AS extract_date FROM ops.batch "
            "GROUP BY hospital_code) AS l "
            "ON b.hospital_code = l.hospital_code AND b.extract_date = l.extract_date "
            "ORDER BY 1"
        ).fetchall()
    ]


class OpsCollector(Collector):
    """Reads the ops tables on every `collect()` (one short connection per scrape)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        today = bangkok_today()
        with connect(self.settings) as conn:
            counts = latest_loaded_counts(conn)
            as_of = data_as_of(conn)
            durations = last_batch_durations(conn)
            alert_totals = alert_counts(conn)
            deliveries = delivery_counts(conn)

        loaded = GaugeMetricFamily(
            "healthlink_rows_loaded",
            "Rows loaded into raw, in the hospital's latest loaded extract",
            labels=["hospital", "entity"],
        )
        rejected = GaugeMetricFamily(
            "healthlink_rows_rejected",
            "Rows rejected (ops.reject), in the hospital's latest loaded extract",
            labels=["hospital", "entity"],
        )
        for code, entity, rows_loaded, rows_rejected in counts:
            loaded.add_metric([code, entity], rows_loaded)
            rejected.add_metric([code, entity], rows_rejected)
        yield loaded
        yield rejected

        lag = GaugeMetricFamily(
            "healthlink_lag_days",
            "Days from the hospital's latest loaded extract date to today (Asia/Bangkok)",
            labels=["hospital"],
        )
        never = GaugeMetricFamily(
            "healthlink_never_loaded",
            "1 for a hospital with batches recorded but none loaded (no lag to give)",
            labels=["hospital"],
        )
        for code, day in as_of.items():
            if day is None:
                never.add_metric([code], 1)
            else:
                lag.add_metric([code], (today - day).days)
        yield lag
        yield never

        duration = GaugeMetricFamily(
            "healthlink_last_batch_duration_seconds",
            "Wall time of the hospital's latest batch (extract to load)",
            labels=["hospital"],
        )
        outcome = GaugeMetricFamily(
            "healthlink_last_batch_loaded",
            "1 when the hospital's latest batch loaded, 0 when quarantined or failed",
            labels=["hospital"],
        )
        for code, status, seconds in durations:
            duration.add_metric([code], seconds)
            outcome.add_metric([code], 1 if status == "loaded" else 0)
        yield duration
        yield outcome

        # Alerts raised (ops.alert), per condition: a fixed list of labels, zero included.
        raised = CounterMetricFamily(
            "healthlink_alerts_raised",
            "Alerts raised (ops.alert), per condition",
            labels=["condition"],
        )
        for condition, count in alert_totals.items():
            raised.add_metric([condition], count)
        yield raised

        # The outbox by state: 'dead' deliveries gave up after alert_max_attempts.
        outbox = GaugeMetricFamily(
            "healthlink_alert_deliveries",
            "Alert deliveries (ops.alert_delivery) per state: pending, failed, sent, dead",
            labels=["state"],
        )
        for state, count in deliveries.items():
            outbox.add_metric([state], count)
        yield outbox
