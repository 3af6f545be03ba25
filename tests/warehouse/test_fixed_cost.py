"""The per-batch fixed cost: GE set up once per process, an empty extract through sync_batch.

Counts come from `expectations.gx_context.BUILT` (where our code builds a GE context, batch
definition or suite, or hands GE a batch) and from GE's own suite registry; nothing is mocked.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from connectors.contract import ENTITIES
from expectations.gx_context import BUILT, context
from tests.support.machine import START
from tests.support.warehouse_batches import prepare
from warehouse.hospital_registry import Hospital
from warehouse.pipeline.batch import sync_batch
from warehouse.settings import Settings
from warehouse.storage.connection import connect


def _documents(settings: Settings, code: str, day: date) -> dict[str, dict]:
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT entity, document FROM ops.validation_result "
            "WHERE hospital_code = ? AND extract_date = ?",
            [code, day],
        ).fetchall()
    return {entity: json.loads(document) for entity, document in rows}


def _empty_the_extract(hospital: Hospital, day: date) -> None:
    """Every file stays; only its header line (or nothing, for a headerless hospital) is left."""
    for path in sorted(hospital.connector.extract_dir(day).glob("*.txt")):
        first = path.read_bytes().split(b"\n", 1)[0]
        path.write_bytes(first + b"\n" if hospital.connector.header else b"")


def test_ge_is_set_up_once_across_batches(settings: Settings, dataset: Path) -> None:
    registry = prepare(settings, dataset)
    first, second = list(registry.hospitals.values())[:2]
    one = sync_batch(first, START, settings=settings)
    built = Counter(BUILT)
    suites = sorted(suite.name for suite in context().suites.all())
    documents = _documents(settings, first.hospital_code, START)

    two = sync_batch(second, START, settings=settings)
    again = sync_batch(first, START, settings=settings)

    assert {one.status, two.status, again.status} == {"loaded"}
    assert one.rows_loaded > 0 and two.rows_loaded > 0
    assert BUILT["context"] == 1
    assert BUILT["batch_definition"] == 1
    for kind in ("context", "batch_definition", "suite"):
        assert BUILT[kind] == built[kind], kind
    assert sorted(suite.name for suite in context().suites.all()) == suites
    assert len(suites) == BUILT["suite"]
    # The reused suites judge the same batch the same way.
    assert set(documents) == set(ENTITIES)
    assert _documents(settings, first.hospital_code, START) == documents


def test_an_empty_extract_loads_nothing_and_clears_the_day(
    settings: Settings, dataset: Path
) -> None:
    registry = prepare(settings, dataset)
    hospitals = list(registry.hospitals.values())
    full = sync_batch(hospitals[0], START, settings=settings)
    assert full.status == "loaded" and full.rows_loaded > 0

    for hospital in hospitals:
        _empty_the_extract(hospital, START)
    summaries = [sync_batch(hospitals[0], START, settings=settings)]
    ge_batches = BUILT["batch"]  # every entity's empty outcome is known from here on
    summaries += [sync_batch(hospital, START, settings=settings) for hospital in hospitals[1:]]
    assert BUILT["batch"] == ge_batches

    for hospital, summary in zip(hospitals, summaries, strict=True):
        assert summary.status == "loaded", (hospital.hospital_code, summary.reason)
        assert summary.rows_read == summary.rows_loaded == 0
        assert set(summary.entities) == set(ENTITIES)
        documents = _documents(settings, hospital.hospital_code, START)
        assert set(documents) == set(ENTITIES)
        for document in documents.values():
            assert document["row_count"] == 0 and document["critical_passed"]
            assert document["extract_date"] == START.isoformat()
            assert all(result["success"] for result in document["results"])
    with connect(settings) as conn:
        for entity in ENTITIES:
            (left,) = conn.execute(
                f"SELECT count(*) FROM raw.{entity} WHERE hospital_code = ? AND extract_date = ?",
                [hospitals[0].hospital_code, START],
            ).fetchone()
            assert left == 0, entity  # the day sent empty replaced the day sent before
