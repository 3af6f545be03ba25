"""bench/connectors.py at a tiny size, so the script cannot rot: both connectors and their raw
reads run on the same source, the sides alternate, and the report holds what BENCHMARKS.md
quotes. Needs the machine's MariaDB (a HOSxP hospital is built in it and dropped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import connectors
from tests.support.hosxp_database import connect_admin


def test_a_tiny_connectors_run_measures_both_sides_of_each_connector(tmp_path: Path) -> None:
    out = tmp_path / "results"
    code = connectors.main(["--rows-target", "3000", "--repeats", "2", "--out", str(out)])
    assert code == 0
    (path,) = out.glob("connectors-*.json")
    report = json.loads(path.read_text())
    assert set(report["connectors"]) == {"hosxp", "fhir_bulk"}
    assert len(report["load_average_before"]) == 3
    for result in report["connectors"].values():
        runs = result["runs"]
        # alternating: the raw read first in the first repeat, the connector in the second
        assert [(r["side"], r["first"]) for r in runs] == [
            ("raw", True), ("connector", False), ("connector", True), ("raw", False),
        ]  # fmt: skip
        # both sides read the same rows; the connector rejected none of them
        assert len({r["source_rows"] for r in runs}) == 1
        assert all(r["rejected"] == 0 for r in runs if r["side"] == "connector")
        medians = result["median"]
        assert result["ratio"] == pytest.approx(
            medians["raw"]["seconds"] / medians["connector"]["seconds"], abs=1e-2
        )
        assert medians["connector"]["rows_per_second"] > 0

    hosxp = report["connectors"]["hosxp"]
    raw_tables = hosxp["runs"][0]["rows_by_table"]
    canonical = hosxp["runs"][1]["canonical_rows"]
    assert raw_tables["patient"] == canonical["patient"] == hosxp["source"]["patients"]
    assert raw_tables["opitemrece"] == canonical["medication_dispense"]
    fhir = report["connectors"]["fhir_bulk"]
    raw_types = fhir["runs"][0]["rows_by_type"]
    assert sum(raw_types.values()) == fhir["source"]["resources"] >= 3000
    # the copies' ids are distinct: the connector keeps every encounter of every copy
    assert fhir["runs"][1]["canonical_rows"]["encounter"] == raw_types["Encounter"]

    # the HOSxP database was a throwaway
    admin = connect_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE %s", (hosxp["source"]["database"],))
            assert cursor.fetchall() == ()
    finally:
        admin.close()
