"""Prometheus metrics of the daily sync, from the ops tables (warehouse.pipeline
.metrics_snapshot: live on PostgreSQL, the pipeline's snapshot on DuckDB).

A custom collector, not counters kept in a process: the sync runs in Airflow workers and CLI
processes that come and go, and ops.* is where every one of them records what it did, so a
scrape sees the same numbers whichever process serves it and nothing is lost on a restart.

Labels are hospital codes and entity names only (some 1,100 hospitals x 10 entities: bounded),
never a patient, a file name or a reason text. Only ops.* is read, so on PostgreSQL the
server can connect as the read-only `healthlink_ops` role.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from warehouse.clock import as_utc, bangkok_today
from warehouse.pipeline import metrics_snapshot
from warehouse.settings import Settings


class OpsCollector(Collector):
    """Reads the ops figures on every `collect()` (metrics_snapshot.current)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        today = bangkok_today()
        snapshot = metrics_snapshot.current(self.settings)
        if snapshot is None:  # DuckDB before the pipeline's first snapshot: nothing to show
            return
        counts, as_of, durations = snapshot.counts, snapshot.as_of, snapshot.durations
        alert_totals, deliveries = snapshot.alerts, snapshot.deliveries

        taken = GaugeMetricFamily(
            "healthlink_metrics_snapshot_timestamp_seconds",
            "When these figures were read from the ops tables (DuckDB: the pipeline's last "
            "snapshot; PostgreSQL: this scrape)",
        )
        taken.add_metric([], as_utc(snapshot.written_at).timestamp())
        yield taken

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
