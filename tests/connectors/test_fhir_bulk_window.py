"""`layout: single`: one export folder, each extract date reading the versions updated in its
window (Asia/Bangkok, overlap_days), so re-runs of a day read the same resources."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import Connector, Location
from connectors.registry import build_connector
from synthetic.fhir_hospital import THAI_ID_SYSTEM
from tests.support.fhir_bulk_samples import DAY, write_export


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("single") / "export"
    write_export(folder)
    return folder


def _single(folder: Path, overlap_days: int = 2) -> Connector:
    return build_connector(
        {
            "kind": "fhir_bulk",
            "path": str(folder),
            "layout": "single",
            "national_id_system": THAI_ID_SYSTEM,
            "overlap_days": overlap_days,
        }
    )


def _keys(connector: Connector, export: Path, days: int = 0) -> set[str]:
    extract = connector.read("10998", None, DAY + timedelta(days=days))
    return {key for table in extract.tables.values() for key in table["record_key"].to_pylist()}


def test_each_day_reads_the_versions_updated_in_its_window(export: Path) -> None:
    connector = _single(export)
    window = connector.window(DAY)
    assert window is not None and window.describe().startswith("records updated from 2026-11-21")
    on_the_day = _keys(connector, export)
    assert "Condition|c1" in on_the_day and "Patient|p1" in on_the_day
    assert "Condition|c3" not in on_the_day  # updated at 08:00 on the 24th, Bangkok time
    assert _keys(connector, export) == on_the_day  # a re-run reads the same
    # Three days later the window (24th to 26th) holds only c3; its patient, updated before,
    # still gives its national ID (every version held is read for that), but no patient row.
    later = connector.read("10998", None, DAY + timedelta(days=3))
    assert _keys(connector, export, days=3) == {"Condition|c3"}
    assert later.rejected == [] and later.tables["patient"].num_rows == 0
    assert later.tables["diagnosis"]["cid"].to_pylist() == [
        connector.read("10998", None, DAY).tables["patient"]["cid"][0].as_py()
    ]
    assert later.deleted == [Location.fhir("Procedure", "pr2")]


def test_without_overlap_the_window_is_the_day(export: Path) -> None:
    keys = _keys(_single(export, overlap_days=0), export)
    # MedicationRequest mr1 and Condition c1's older version are dated the 22nd, but what counts
    # is meta.lastUpdated: every sample except c3 and pr2 (deleted) was updated on the 23rd.
    assert "MedicationRequest|mr1" in keys and "Procedure|pr2" not in keys
