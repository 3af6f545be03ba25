"""A landing file written before the contract had `code_system` (a replay of an older day)
still loads: the column it lacks stays null, which is what every such row meant."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.machine import TEST_KEY
from warehouse.pipeline.load import load_batch
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import landed_schema, setup_warehouse

DAY = date(2026, 11, 23)


def test_an_old_landing_file_loads_with_a_null_code_system(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        registry_dir=tmp_path / "registry",
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
    )
    setup_warehouse(settings)
    old_schema = pa.schema([f for f in landed_schema("diagnosis") if f.name != "code_system"])
    row = {
        "hospital_code": "10669",
        "source_file": "DIAGNOSIS_OPD.txt",
        "source_line": 2,
        "extract_date": DAY,
        "batch_id": "b1",
        "record_key": "S1|1|B24",
        "pid": "1",
        "encounter_id": "S1",
        "encounter_class": "OPD",
        "service_date": DAY,
        "diagnosis_type": "1",
        "icd10_code": "B24",
        "patient_key": "0" * 32,
        "row_hash": "1" * 32,
    }
    parquet = tmp_path / "diagnosis-old.parquet"
    pq.write_table(pa.Table.from_pylist([row], schema=old_schema), parquet)
    with connect(settings) as conn:
        with conn.transaction():
            load_batch(conn, {"diagnosis": parquet}, "10669", DAY, datetime(2026, 11, 24, 2))
        loaded = conn.execute("SELECT icd10_code, code_system FROM raw.diagnosis").fetchall()
    assert [tuple(r) for r in loaded] == [("B24", None)]
