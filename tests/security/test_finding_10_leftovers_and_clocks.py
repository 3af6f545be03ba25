"""Issue 9, finding 10: leftovers after a purge and dates after today, on DuckDB and
PostgreSQL, through the real `healthlink` command (a subprocess) where there is one.

- A purge removes the patient from the API's name-search index (api.name_key) too, and asks
  the storage to drop the deleted bytes (CHECKPOINT / VACUUM).
- `who-could-see`, `sync` and `ingest` refuse dates after today (Asia/Bangkok).
- A hospital joins on its `participating_since`, never before: not in the day's hospital list,
  not in the consent mirror, no `hospital_joined` event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli_warehouse import H1, H2, CliWarehouse
from tests.support.cli_warehouse import cli_warehouse as cli_warehouse  # the fixture
from tests.support.consent_kit import national_id
from tests.support.machine import TEST_KEY
from warehouse.api.name_index import blocking_keys
from warehouse.clock import bangkok_today
from warehouse.consent import record_hospital_joined
from warehouse.hospital_registry import load_registry
from warehouse.pipeline.daily_run import prepare_run
from warehouse.pseudonym import patient_key
from warehouse.storage.connection import connect

HEADER = (
    "cid,birth_date,registered_at,status,sender_scope,sender_networks,sender_hospitals,"
    "sensitive_allowed,verification_method,verified_at"
)


def _key(serial: int) -> str:
    return patient_key(national_id(serial), TEST_KEY.encode())


def _register(warehouse: CliWarehouse, tmp_path: Path, serials: list[int]) -> None:
    registered = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    verified = (registered - timedelta(minutes=5)).isoformat()
    path = tmp_path / "registrations.csv"
    path.write_text(
        "\n".join(
            [HEADER]
            + [
                f"{national_id(s)},1980-05-01,{registered.isoformat()},active,ALL,,,false,"
                f"thaid,{verified}"
                for s in serials
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    done = warehouse.run("consent", "import", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def _hospital_joined(warehouse: CliWarehouse) -> list[str]:
    with connect(warehouse.settings) as conn:
        rows = conn.execute(
            "SELECT payload FROM consent.event WHERE event_type = 'hospital_joined'"
        ).fetchall()
    return sorted(payload for (payload,) in rows)


def test_finding_10_purge_leaves_no_name_fragments(
    cli_warehouse: CliWarehouse, tmp_path: Path
) -> None:
    _register(cli_warehouse, tmp_path, [1, 2])
    gone, kept = _key(1), _key(2)
    with connect(cli_warehouse.settings) as conn:  # the migration made the API's tables
        for number, key in enumerate((gone, kept)):
            conn.execute(
                "INSERT INTO raw.encounter (hospital_code, record_key, patient_key)"
                " VALUES (?, ?, ?)",
                [H1, f"R{number}", key],
            )
            for name_key in blocking_keys("somchai", "jaidee"):
                conn.execute(
                    "INSERT INTO api.name_key (name_key, patient_key) VALUES (?, ?)",
                    [name_key, key],
                )
        conn.execute("INSERT INTO api.name_index_state (built_for) VALUES ('before')")

    withdrawn = cli_warehouse.run("consent", "withdraw", gone)
    assert withdrawn.returncode == 0, withdrawn.stderr
    code, purged = cli_warehouse.run_json("consent", "purge")
    assert code == 0
    assert (purged["patients"], purged["rows_raw"]) == (1, 1)
    assert purged["rows_derived"] == len(blocking_keys("somchai", "jaidee"))
    # The storage was asked to drop the deleted bytes (CHECKPOINT; VACUUM as the owner).
    assert "raw.encounter" in purged["reclaimed"] and purged["reclaim_pending"] == []

    with connect(cli_warehouse.settings) as conn:
        index = conn.execute("SELECT DISTINCT patient_key FROM api.name_key").fetchall()
        assert index == [(kept,)]  # the withdrawn patient's fragments are gone, others stay
        # The API rebuilds the index from the consent-filtered published.patient next time.
        assert conn.execute("SELECT count(*) FROM api.name_index_state").fetchone() == (0,)
        stored = conn.execute("SELECT DISTINCT patient_key FROM raw.encounter").fetchall()
        assert stored == [(kept,)]


def test_finding_10_dates_after_today_are_refused(cli_warehouse: CliWarehouse) -> None:
    today = bangkok_today()
    for ahead in (1, 19):
        day = (today + timedelta(days=ahead)).isoformat()
        code, body = cli_warehouse.run_json("consent", "who-could-see", "--date", day)
        assert code == 2 and body["refused"] == "future_date", body
        for command in (
            ("sync", "--date", day),
            ("ingest", "--hospital", H1, "--date", day),
        ):
            done = cli_warehouse.run(*command)
            assert done.returncode == 2, (command, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr and "after today" in done.stderr, command
    code, _ = cli_warehouse.run_json("consent", "who-could-see", "--date", today.isoformat())
    assert code == 0
    # A hospital that joins tomorrow cannot be ingested today either.
    early = cli_warehouse.run("ingest", "--hospital", H2, "--date", today.isoformat())
    assert early.returncode == 2 and "does not participate" in early.stderr
    assert _hospital_joined(cli_warehouse) == []  # nothing ran, nobody joined


def test_finding_10_a_hospital_joins_on_its_participating_since(
    cli_warehouse: CliWarehouse,
) -> None:
    settings, registry_dir = cli_warehouse.settings, cli_warehouse.registry_dir
    today, tomorrow = bangkok_today(), bangkok_today() + timedelta(days=1)
    with pytest.raises(ValueError, match="after today"):
        prepare_run(tomorrow, registry_dir, settings)  # the DAG's prepare step too
    assert prepare_run(today, registry_dir, settings) == [H1]
    with connect(settings) as conn:
        mirrored = conn.execute("SELECT hospital_code FROM consent.hospital").fetchall()
        assert mirrored == [(H1,)]  # H2 is not in the consent mirror before its date
        # Even asked for tomorrow, nobody joins ahead of their date.
        assert record_hospital_joined(conn, load_registry(registry_dir), tomorrow) == []
    joined = _hospital_joined(cli_warehouse)
    assert len(joined) == 1 and H1 in joined[0] and H2 not in joined[0]
