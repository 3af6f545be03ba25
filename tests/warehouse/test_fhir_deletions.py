"""A FHIR export's `deleted` entries delete, end to end (docs/contract.md "Deletions").

Day 1 loads the Thai samples (tests/support/fhir_bulk_samples.py); day 2's export lists
Condition c1, the blood-pressure Observation bp1 (two vital rows) and an id the warehouse
never held in its `deleted` Bundle. After day 2's sync and the dbt build they are gone from
raw, the landing zone, the facts and the published views, and every other row stays; running
day 2 again changes nothing, and a replay of day 1 does not bring them back. On DuckDB and on PostgreSQL, where the sync connects as the
loader and dbt as the transformer, as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import yaml

from synthetic.fhir_hospital import THAI_ID_SYSTEM, ThaiPatient, append_registrations
from tests.support.cli_warehouse import cli_for
from tests.support.fhir_bulk_samples import CIDS, DAY, TRANSACTION_TIME, write_export
from tests.support.machine import TEST_KEY, throwaway_pg_database
from tests.support.warehouse_batches import key, table_checksums
from warehouse.consent.sender_choice import import_registrations, sync_hospitals
from warehouse.hospital_registry import load_registry
from warehouse.pipeline.batch import sync_batch
from warehouse.pipeline.transform import transform
from warehouse.settings import LOADER_ROLE, Settings, url_for_role
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

HOSPITAL = "10997"
DAY_TWO = DAY + timedelta(days=1)
DAY_THREE = DAY + timedelta(days=2)  # in another world: the export deletes the Patient
DELETED = ("Condition/c1", "Observation/bp1", "Condition/never-loaded")
GONE = ("Condition|c1", "Observation|bp1|systolic_bp", "Observation|bp1|diastolic_bp")
# What each deleted record was loaded as: (raw/fact entity, published category).
GONE_FROM = {"Condition|c1": "diagnosis", "Observation|bp1|systolic_bp": "vital_sign"}


def _deleting_export(folder: Path, deleted: tuple[str, ...]) -> None:
    """A day on which no resource changed and `deleted` were deleted."""
    folder.mkdir(parents=True)
    entries = [{"request": {"method": "DELETE", "url": url}} for url in deleted]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    (folder / "deleted.Bundle.000.ndjson").write_bytes(orjson.dumps(bundle) + b"\n")
    manifest = {
        "transactionTime": TRANSACTION_TIME,
        "requiresAccessToken": True,
        "output": [],
        "deleted": [{"type": "Bundle", "url": "deleted.Bundle.000.ndjson"}],
        "error": [],
    }
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest))


def _world(root: Path) -> Path:
    """The registry of one FHIR hospital with its two day folders, and its consent feed."""
    hospitals = root / "registry" / "hospitals"
    hospitals.mkdir(parents=True)
    networks = {"networks": [{"code": "FHIRNET", "name": "FHIR network"}]}
    (root / "registry" / "networks.yml").write_text(yaml.safe_dump(networks), encoding="utf-8")
    write_export(root / "fhir" / DAY.isoformat())
    _deleting_export(root / "fhir" / DAY_TWO.isoformat(), DELETED)
    _deleting_export(root / "fhir" / DAY_THREE.isoformat(), ("Patient/p1",))
    document = {
        "hospital_code": HOSPITAL,
        "name": "FHIR deletions hospital",
        "network": "FHIRNET",
        "health_region": 13,
        "participating_since": DAY - timedelta(days=30),
        "reject_threshold": 0.5,  # 3 of the samples' rows are rejects by design
        "connector": {
            "kind": "fhir_bulk",
            "path": "../../fhir",
            "national_id_system": THAI_ID_SYSTEM,
        },
    }
    (hospitals / f"{HOSPITAL}.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    patient = ThaiPatient("p1", CIDS[0], date(1970, 5, 1), deceased=False)
    append_registrations(root / "consent.csv", [patient], DAY)
    return root / "registry"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Settings, Settings]]:
    """(what the pipeline connects with, what the test reads with: the owner, past grants)."""
    registry_dir = _world(tmp_path / "world")

    def prepared(warehouse: str) -> Settings:
        made = Settings(
            home=tmp_path / "home",
            registry_dir=registry_dir,
            pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
            environment="test",
            warehouse=warehouse,
        )
        setup_warehouse(made)  # `healthlink migrate`, as the database owner
        with connect(made) as conn:
            sync_hospitals(conn, load_registry(registry_dir))
            import_registrations(conn, tmp_path / "world" / "consent.csv", key(made))
        return made

    if request.param == "duckdb":
        embedded = prepared("")
        yield embedded, embedded
        return
    with throwaway_pg_database("healthlink_deletions_test") as url:
        owner = prepared(url)
        # The sync connects as the loader; dbt derives the transformer from its URL.
        yield owner.model_copy(update={"warehouse": url_for_role(url, LOADER_ROLE)}), owner


def _sync(settings: Settings, day: date) -> int:
    summary = sync_batch(
        load_registry(settings.registry_dir).hospitals[HOSPITAL], day, settings=settings
    )
    assert summary.status == "loaded", summary.reason
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected + summary.rows_filtered
    return summary.rows_deleted


def _keys(settings: Settings, relation: str) -> set[str]:
    with connect(settings) as conn:
        rows = conn.execute(
            f"SELECT record_key FROM {relation} WHERE hospital_code = ?", [HOSPITAL]
        )
        return {record_key for (record_key,) in rows.fetchall()}


def _stored(settings: Settings) -> dict[str, set[str]]:
    """Every record key per raw table, fact and published view of the two categories."""
    found = {}
    for entity in ("diagnosis", "vital_sign", "encounter", "lab_result", "procedure"):
        for relation in (f"raw.{entity}", f"marts.fct_{entity}", f"published.{entity}"):
            found[relation] = _keys(settings, relation)
    return found


def _landed_keys(settings: Settings, day: date) -> set[str]:
    folder = settings.landing_dir / f"hospital={HOSPITAL}" / f"extract_date={day.isoformat()}"
    return {
        record_key
        for path in folder.glob("*/*.parquet")
        for record_key in pq.read_table(path).column("record_key").to_pylist()
    }


def test_a_deleted_resource_leaves_raw_landing_facts_and_published_views(
    warehouse: tuple[Settings, Settings],
) -> None:
    settings, owner = warehouse
    assert _sync(settings, DAY) == 1  # the samples' own deleted Bundle names pr2, never loaded
    transform(settings)
    before = _stored(owner)
    for record_key, entity in GONE_FROM.items():
        for relation in (f"raw.{entity}", f"marts.fct_{entity}", f"published.{entity}"):
            assert record_key in before[relation], relation
    assert set(GONE) <= _landed_keys(settings, DAY)

    assert _sync(settings, DAY_TWO) == len(DELETED)
    with connect(settings) as conn:
        tombstones = conn.execute(
            "SELECT entity, record_key FROM raw.deleted_record WHERE extract_date = ?", [DAY_TWO]
        ).fetchall()
        first_run = table_checksums(conn, ("raw",))
    # The unknown id resolves to nothing; the panel's two vital rows are two tombstones.
    assert sorted(tombstones) == [
        ("diagnosis", "Condition|c1"),
        ("vital_sign", "Observation|bp1|diastolic_bp"),
        ("vital_sign", "Observation|bp1|systolic_bp"),
    ]
    # Run again before dbt: its earlier versions are gone from raw, the tombstones are not.
    assert _sync(settings, DAY_TWO) == len(DELETED)
    with connect(settings) as conn:
        assert table_checksums(conn, ("raw",)) == first_run
    transform(settings)

    after = _stored(owner)
    for relation, keys in before.items():
        assert after[relation] == keys - set(GONE), relation
    assert not set(GONE) & _landed_keys(settings, DAY)
    assert _landed_keys(settings, DAY) - set(GONE)  # the other rows stay in landing

    # Day 2 again, after its build: nothing comes back, nothing else goes.
    assert _sync(settings, DAY_TWO) == len(DELETED)
    transform(settings)
    assert _stored(owner) == after
    # Day 1 again (a replay), after the deletion: its versions of the records stay deleted.
    assert _sync(settings, DAY) == 1
    transform(settings)
    assert _stored(owner) == after
    assert not set(GONE) & _landed_keys(settings, DAY)
    with connect(settings) as conn:
        (deleted,) = conn.execute(
            "SELECT rows_deleted FROM ops.batch WHERE hospital_code = ? AND extract_date = ?",
            [HOSPITAL, DAY_TWO],
        ).fetchone()
    assert deleted == len(DELETED)


def test_a_deleted_patient_leaves_the_patient_dimension_and_its_clinical_records_stay(
    warehouse: tuple[Settings, Settings],
) -> None:
    """What docs/contract.md "Deletions" says of a deleted Patient: the build passes, the
    hospital no longer knows the patient, the clinical records (other resources) stay."""
    settings, owner = warehouse
    _sync(settings, DAY)
    transform(settings)
    before = _stored(owner)
    assert _keys(owner, "raw.patient") == {"Patient|p1"}
    assert _sync(settings, DAY_THREE) == 1
    transform(settings)  # the facts' relationships test to dim_patient only warns
    assert _keys(owner, "raw.patient") == set()
    with connect(owner) as conn:
        (known,) = conn.execute(
            "SELECT count(*) FROM marts.bridge_patient_hospital WHERE hospital_code = ?",
            [HOSPITAL],
        ).fetchone()
        (listed,) = conn.execute("SELECT count(*) FROM published.patient").fetchone()
    assert (known, listed) == (0, 0)
    assert _stored(owner) == before


def test_healthlink_ingest_says_how_many_records_the_source_deleted(
    warehouse: tuple[Settings, Settings],
) -> None:
    settings, _ = warehouse
    _sync(settings, DAY)
    ingest = ("ingest", "--hospital", HOSPITAL, "--date", DAY_TWO.isoformat())
    done = cli_for("", settings).run(*ingest)
    assert done.returncode == 0, done.stderr
    assert f"records deleted at the source: {len(DELETED)}" in done.stdout
    assert cli_for("", settings).run_json(*ingest)[1]["rows_deleted"] == len(DELETED)
