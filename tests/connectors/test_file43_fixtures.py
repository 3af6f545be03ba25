"""The committed fixture extracts: one UTF-8/Gregorian/header, one TIS-620/Buddhist/headerless."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from connectors.file43 import File43Connector, File43Settings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "file43"
DAY = date(2024, 3, 1)
LINEAGE = ["hospital_code", "source_file", "source_line", "batch_id", "record_key"]


def _read(code: str, **settings):
    connector = File43Connector(File43Settings(path=FIXTURES / code, **settings))
    return connector.read(code, connector.extract_dir(DAY), DAY)


def test_both_fixture_hospitals_read_to_the_same_content():
    utf8 = _read("10001")
    tis = _read("10002", encoding="tis-620", date_era="buddhist", header=False)
    assert utf8.rejected == [] and tis.rejected == []
    for entity, table in utf8.tables.items():
        assert table.num_rows > 0, entity
        other = tis.tables[entity]
        assert table.drop_columns(LINEAGE).equals(other.drop_columns(LINEAGE)), entity
        assert other.column("invalid_fields").null_count == other.num_rows, entity
    names = tis.tables["patient"].column("first_name").to_pylist()
    assert names == ["สมชาย", "สมศรี"]
    assert tis.tables["encounter"].column("source_line").to_pylist()[:2] == [1, 2]
    assert utf8.tables["encounter"].column("source_line").to_pylist()[:2] == [2, 3]
