"""The operations page's tests (tests/api/test_ops_page.py): the served API warehouse
(tests/support/api_server.py, built by a real sync of two days) given ten days of ledger,
an ops account and a physician.

The two days the build synced keep their real batches; the eight days before them get
batches of counts only (no patient data: the page reads the ops tables alone). Then the
pipeline's own steps write the ledger day by day (warehouse.pipeline.ops.record_batch /
record_rejects / record_quarantine, warehouse.pipeline.daily_run.record_ledger), as the
daily run writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from connectors.base import Location, Reject
from tests.support.api_server import PINCODE, Server
from tests.support.machine import START

OPS_USER = "ops.tester"
OPS_PASSWORD = "a-long-ops-password-1"
OPS_PHYSICIAN = "OPS701"
DAYS = 10
SYNCED_DAYS = 2  # START and the day after: the build's real sync
LAST_DAY = START + timedelta(days=SYNCED_DAYS - 1)
ENTITIES = ("person", "service", "diagnosis_opd")


@dataclass
class OpsPage:
    url: str
    codes: list[str]  # the registry's hospitals
    quarantined: tuple[str, date]  # the one quarantined batch
    region: int  # the region of codes[0]
    network: str  # the network of codes[0]


def _fill_ledger(settings: object, registry_dir: Path) -> tuple[list[str], tuple[str, date]]:
    from warehouse.hospital_registry import load_registry
    from warehouse.pipeline import ops
    from warehouse.pipeline.daily_run import record_ledger
    from warehouse.storage.connection import connect

    registry = load_registry(registry_dir)
    codes = sorted(registry.hospitals)
    quarantined = (codes[-1], START - timedelta(days=2))
    with connect(settings) as conn:  # type: ignore[arg-type]
        for offset in range(DAYS - 1, -1, -1):
            day = LAST_DAY - timedelta(days=offset)
            run_id = f"ops-page-{day.isoformat()}"
            started = datetime(day.year, day.month, day.day, 20, 0)
            if day >= START:  # synced by the build: its own batches
                record_ledger(conn, registry, day, f"build-{day.isoformat()}", started)
                continue
            for n, code in enumerate(codes):
                if code == codes[0] and offset in (4, 5):
                    continue  # missing: nothing arrived
                status = "quarantined" if (code, day) == quarantined else "loaded"
                rejected = (n + 1) * (offset % 3 + 1)
                summary = ops.BatchSummary(
                    hospital_code=code,
                    extract_date=day,
                    status=status,
                    batch_id=f"b-{code}-{day:%Y%m%d}",
                    rows_read=1000,
                    rows_loaded=1000 - rejected if status == "loaded" else 0,
                    rows_rejected=rejected,
                    rows_quarantined=1000 if status == "quarantined" else 0,
                    reason_code="reject_rate" if status == "quarantined" else None,
                    reason="reject rate above the threshold" if status == "quarantined" else None,
                    started_at=started,
                    finished_at=started + timedelta(seconds=30 + n),
                    duration_s=30.0 + n,
                    entities={
                        e: ops.EntityCounts(
                            rows_read=1000 // len(ENTITIES),
                            rows_loaded=1000 // len(ENTITIES) - rejected,
                            rows_rejected=rejected,
                        )
                        for e in ENTITIES[:1]
                    },
                )
                ops.record_batch(conn, summary, run_id)
                if status == "quarantined":
                    ops.record_quarantine(conn, summary, [{"name": "PERSON.txt"}])
                    continue
                ops.record_rejects(
                    conn,
                    code,
                    day,
                    summary.batch_id or "",
                    [
                        Reject(
                            entity="person",
                            location=Location(source="PERSON.txt", line=i + 2),
                            field="BIRTH",
                            rule="date_readable" if i % 2 else "not_null",
                            reason="not a date",
                            row_hash=f"{code}{day}{i}",
                        )
                        for i in range(rejected)
                    ],
                )
            record_ledger(conn, registry, day, run_id, started + timedelta(hours=1))
    return codes, quarantined


def prepare_ops_page(server: Server) -> OpsPage:
    from warehouse.api import ops_accounts, physicians
    from warehouse.storage.connection import connect

    registry_dir = server.settings.registry_dir
    codes, quarantined = _fill_ledger(server.settings, registry_dir)
    with connect(server.settings) as conn, conn.transaction():
        ops_accounts.add_ops_account(conn, OPS_USER, OPS_PASSWORD)
        physicians.add_physician(conn, OPS_PHYSICIAN, "Ops Page Physician", PINCODE, [codes[0]])
    from warehouse.hospital_registry import load_registry

    first = load_registry(registry_dir).hospitals[codes[0]]
    return OpsPage(server.url, codes, quarantined, first.health_region, first.network)
