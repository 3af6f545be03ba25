"""`healthlink rejects --format csv`: the feedback file a hospital's data team acts on, from
ops.reject through the real command; where and why, never a value of the rejected record."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

from connectors.base import Location, Reject
from tests.support.airflow_harness import BIN
from tests.support.dag_deployment import Deployment
from tests.support.machine import START
from warehouse.cli.rejects import COLUMNS
from warehouse.pipeline.ops import record_rejects
from warehouse.settings import Settings
from warehouse.storage.connection import connect


def rejects(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "healthlink"), "rejects", *args],
        env=deployment.env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_csv_file_lists_every_reject_with_its_place_and_reason(
    loaded: tuple[Deployment, str], tmp_path: Path
) -> None:
    deployment, code = loaded
    out = tmp_path / "feedback.csv"

    done = rejects(
        deployment,
        "--hospital",
        code,
        "--date",
        START.isoformat(),
        "--format",
        "csv",
        "--out",
        str(out),
    )

    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = deployment.query(
        "SELECT entity, source_file, source_line, field, rule, reason FROM ops.reject "
        "WHERE hospital_code = ? AND extract_date = ? ORDER BY ALL",
        [code, START],
    )
    assert list(rows[0]) == COLUMNS
    assert sorted(
        (r["entity"], r["source"], int(r["line"]), r["field"] or None, r["rule"], r["reason"])
        for r in rows
    ) == sorted(expected)
    assert {r["hospital_code"] for r in rows} == {code}
    assert all(r["source"].endswith(".txt") and int(r["line"]) > 0 for r in rows)
    # The same file on stdout without --out.
    on_stdout = rejects(
        deployment, "--hospital", code, "--date", START.isoformat(), "--format", "csv"
    )
    assert on_stdout.stdout == out.read_text(encoding="utf-8")


def test_the_file_carries_no_value_of_the_rejected_records(
    loaded: tuple[Deployment, str], tmp_path: Path
) -> None:
    """Every cell is a code, a place or a reason: none holds a value of the hospital's own
    extract (national IDs, names, codes, dates of the rejected rows)."""
    deployment, code = loaded
    done = rejects(deployment, "--hospital", code, "--date", START.isoformat(), "--format", "csv")
    cells = {cell for row in csv.reader(io.StringIO(done.stdout)) for cell in row}
    assert not any(re.search(r"\d{13}", cell) for cell in cells)
    extract = deployment.dataset / "extracts" / code / START.isoformat()
    values: set[str] = set()
    for path in extract.glob("*.txt"):
        for line in path.read_bytes().splitlines()[1:]:
            values.update(
                v.decode("utf-8", "replace").strip()
                for v in line.split(b"|")
                if len(v.strip()) >= 6  # codes and names; short flags say nothing
            )
    leaked = cells & values
    assert not leaked, sorted(leaked)[:5]


def test_a_database_source_gives_its_table_and_primary_key(
    loaded: tuple[Deployment, str], tmp_path: Path
) -> None:
    deployment, _ = loaded
    settings = Settings(home=deployment.root / "home", environment="test")
    with connect(settings) as conn:
        record_rejects(
            conn,
            "77777",
            START,
            "batch-db",
            [
                Reject(
                    entity="diagnosis",
                    location=Location.in_table("opd_diagnosis", "H1|V42|2"),
                    field="icd10",
                    rule="expect_column_values_to_match_regex",
                    reason="icd10 is not an ICD-10 code",
                    row_hash="0" * 64,
                )
            ],
        )

    done = rejects(
        deployment, "--hospital", "77777", "--date", START.isoformat(), "--format", "csv"
    )

    (row,) = list(csv.DictReader(io.StringIO(done.stdout)))
    assert (row["source"], row["line"], row["key"], row["field"]) == (
        "opd_diagnosis",
        "",
        "H1|V42|2",
        "icd10",
    )
    assert "0" * 64 not in done.stdout  # no row hash either
