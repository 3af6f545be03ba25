"""One hospital's batch through the real connector, GE, landing and DuckDB load."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.machine import START
from tests.support.warehouse_batches import ingest_all, key, prepare, table_checksums
from warehouse.pipeline.batch import sync_batch
from warehouse.pseudonym import patient_key
from warehouse.settings import Settings
from warehouse.storage.connection import connect


def hospital_with(manifest: dict, **flags: object) -> str:
    for info in manifest["hospitals"]:
        if all(info.get(k) == v for k, v in flags.items()):
            return str(info["hospital_code"])
    raise AssertionError(f"no hospital with {flags}")


def manifest_of(dataset: Path) -> dict:
    return json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))


def test_every_batch_accounts_for_every_row(settings: Settings, dataset: Path) -> None:
    registry = prepare(settings, dataset)
    summaries = ingest_all(settings, registry, START)
    assert {s.status for s in summaries.values()} == {"loaded"}
    with connect(settings) as conn:
        per_entity = conn.execute(
            "SELECT hospital_code, entity, rows_read, rows_loaded, rows_rejected, rows_filtered "
            "FROM ops.batch_entity"
        ).fetchall()
        batches = conn.execute(
            "SELECT rows_read, rows_loaded, rows_rejected, rows_filtered FROM ops.batch"
        ).fetchall()
        rejects = conn.execute("SELECT count(*) FROM ops.reject").fetchone()[0]
        loaded = sum(
            conn.execute(f"SELECT count(*) FROM raw.{e}").fetchone()[0]
            for e in {row[1] for row in per_entity}
        )
    assert len(per_entity) == 10 * len(registry.hospitals)
    for _, _, read, ok, rejected, filtered in per_entity:
        assert read == ok + rejected + filtered
    for read, ok, rejected, filtered in batches:
        assert read == ok + rejected + filtered
    assert loaded == sum(b[1] for b in batches)
    assert rejects == sum(b[2] for b in batches) > 0  # the dataset carries injected errors
    assert sum(b[3] for b in batches) > 0  # and patients who did not consent


def test_reloading_a_day_changes_nothing(settings: Settings, dataset: Path) -> None:
    registry = prepare(settings, dataset)
    code = next(iter(registry.hospitals))
    first = sync_batch(registry.hospitals[code], START, settings=settings)
    with connect(settings) as conn:
        before = table_checksums(conn, ("raw",))
    again = sync_batch(registry.hospitals[code], START, settings=settings)
    with connect(settings) as conn:
        after = table_checksums(conn, ("raw",))
    assert after == before
    assert again.batch_id == first.batch_id
    assert again.rows_loaded == first.rows_loaded
    files = sorted(Path(first.landing_path).iterdir())  # type: ignore[arg-type]
    assert files == sorted(Path(again.landing_path).iterdir())  # type: ignore[arg-type]


def _break_wrong_delimiter(folder: Path) -> None:
    path = folder / "SERVICE.txt"
    path.write_bytes(path.read_bytes().replace(b"|", b","))


def _break_missing_file(folder: Path) -> None:
    (folder / "LABFU.txt").unlink()


def _break_undecodable(folder: Path) -> None:
    path = folder / "PERSON.txt"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3] + b"\xff\xfe"
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    ("breaker", "reason_code", "file_named"),
    [
        (_break_wrong_delimiter, "wrong_delimiter", "SERVICE"),
        (_break_missing_file, "missing_file", "LABFU"),
        (_break_undecodable, "invalid_encoding", "PERSON"),
    ],
)
def test_broken_extract_is_quarantined_and_others_load(
    settings: Settings, dataset: Path, breaker, reason_code: str, file_named: str
) -> None:
    registry = prepare(settings, dataset)
    broken = hospital_with(manifest_of(dataset), encoding="utf-8", date_era="gregorian")
    good_day = sync_batch(registry.hospitals[broken], START, settings=settings)
    assert good_day.status == "loaded"
    with connect(settings) as conn:
        before = table_checksums(conn, ("raw",))

    folder = Path(registry.hospitals[broken].connector.path) / START.isoformat()
    breaker(folder)
    summaries = ingest_all(settings, registry, START)

    quarantined = summaries.pop(broken)
    assert quarantined.status == "quarantined"
    assert quarantined.reason_code == reason_code
    assert file_named in (quarantined.reason or "")
    assert all(s.status == "loaded" for s in summaries.values())
    with connect(settings) as conn:
        record = conn.execute(
            "SELECT reason_code, files FROM ops.quarantine WHERE hospital_code = ?", [broken]
        ).fetchone()
        raw_of_broken = {name: value for name, value in table_checksums(conn, ("raw",)).items()}
    assert record[0] == reason_code
    assert all(len(f["sha256"]) == 64 for f in json.loads(record[1]))
    assert folder.exists() and any(folder.iterdir())  # the files stay at the source
    # the hospital's previously loaded day is untouched (other hospitals added rows)
    with connect(settings) as conn:
        for entity in ("encounter", "diagnosis"):
            count = conn.execute(
                f"SELECT count(*) FROM raw.{entity} WHERE hospital_code = ?", [broken]
            ).fetchone()[0]
            assert count == good_day.entities[entity].rows_loaded
    assert raw_of_broken != before


def test_reject_rate_over_threshold_quarantines(settings: Settings, dataset: Path) -> None:
    registry = prepare(settings, dataset)
    code = hospital_with(manifest_of(dataset), encoding="utf-8", date_era="gregorian")
    summary = sync_batch(
        registry.hospitals[code], START, settings=settings, reject_threshold=0.0001
    )
    assert summary.status == "quarantined"
    assert summary.reason_code == "reject_rate"
    assert summary.rows_read == (
        summary.rows_rejected + summary.rows_filtered + summary.rows_quarantined
    )
    with connect(settings) as conn:
        assert conn.execute("SELECT count(*) FROM raw.encounter").fetchone()[0] == 0


def _cids_in_extracts(dataset: Path, code: str) -> set[str]:
    from connectors.registry import build_connector
    from warehouse.hospital_registry import load_registry

    hospital = load_registry(dataset / "registry").hospitals[code]
    extract = build_connector(hospital.connector).read(
        code, Path(hospital.connector.path) / START.isoformat(), START
    )
    return set(extract.tables["patient"].column("cid").to_pylist())


def test_patient_without_consent_leaves_no_trace(settings: Settings, dataset: Path) -> None:
    registry = prepare(settings, dataset)
    code = next(iter(registry.hospitals))
    with connect(settings) as conn:
        consenting = {
            r[0] for r in conn.execute("SELECT patient_key FROM consent.patient_consent").fetchall()
        }
    cids = _cids_in_extracts(dataset, code)
    outsiders = {patient_key(c, key(settings)) for c in cids if c} - consenting
    assert outsiders, "the dataset should hold patients who never registered"
    summary = sync_batch(registry.hospitals[code], START, settings=settings)
    assert summary.rows_filtered > 0
    with connect(settings) as conn:
        for entity in summary.entities:
            keys = {
                r[0]
                for r in conn.execute(f"SELECT DISTINCT patient_key FROM raw.{entity}").fetchall()
            }
            assert not keys & outsiders, entity
    for parquet in Path(summary.landing_path).glob("*.parquet"):  # type: ignore[arg-type]
        landed = set(pq.read_table(parquet, columns=["patient_key"]).column(0).to_pylist())
        assert not landed & outsiders, parquet.name
        if parquet.name.startswith("patient-"):
            landed_cids = set(pq.read_table(parquet, columns=["cid"]).column(0).to_pylist())
            assert all(patient_key(c, key(settings)) not in outsiders for c in landed_cids)
        else:
            assert "cid" not in pq.read_schema(parquet).names


def test_bad_rows_rejected_with_file_line_field(settings: Settings, dataset: Path) -> None:
    registry = prepare(settings, dataset)
    ingest_all(settings, registry, START)
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT source_file, source_line, field, rule, reason, row_hash FROM ops.reject"
        ).fetchall()
        patients = conn.execute("SELECT cid, first_name, last_name FROM raw.patient").fetchall()
    assert rows
    assert all(r[0].endswith(".txt") and r[1] >= 1 and r[2] and len(r[5]) == 64 for r in rows)
    rules = {r[3] for r in rows}
    assert "national_id_readable" in rules  # malformed national IDs
    assert any("after the extract date" in r[4] for r in rows)  # future dates
    personal = {v for p in patients for v in p if v}
    assert not any(value in r[4] for r in rows for value in personal)


def test_buddhist_era_and_tis620_read_as_gregorian_utf8(settings: Settings, dataset: Path) -> None:
    """The same patients, sent by a plain hospital and by quirky ones, read the same."""
    registry = prepare(settings, dataset)
    ingest_all(settings, registry, START)
    manifest = manifest_of(dataset)
    plain = hospital_with(manifest, encoding="utf-8", date_era="gregorian")
    buddhist = hospital_with(manifest, date_era="buddhist")
    tis620 = hospital_with(manifest, encoding="tis-620")
    with connect(settings) as conn:

        def people(code: str) -> dict[str, tuple]:
            return {
                r[0]: r[1:]
                for r in conn.execute(
                    "SELECT patient_key, first_name, last_name, birth_date FROM raw.patient "
                    "WHERE hospital_code = ?",
                    [code],
                ).fetchall()
            }

        base = people(plain)
        for other in (buddhist, tis620):
            shared = base.keys() & people(other).keys()
            assert shared, other
            for k in shared:
                assert people(other)[k] == base[k]
        years = conn.execute(
            "SELECT min(extract(year FROM service_date)), max(extract(year FROM service_date)) "
            "FROM raw.encounter "
            "WHERE hospital_code = ?",
            [buddhist],
        ).fetchone()
    assert 2000 < years[0] <= years[1] <= START.year


def test_reject_threshold_zero_in_yaml_means_zero(settings: Settings, dataset: Path) -> None:
    """`reject_threshold: 0` quarantines on the first reject; it is not "unset" (the 5%
    default used to apply because 0 is falsy)."""
    registry = prepare(settings, dataset)
    manifest = manifest_of(dataset)
    code = hospital_with(manifest, encoding="utf-8", date_era="gregorian")
    hospital = registry.hospitals[code].model_copy(update={"reject_threshold": 0.0})
    summary = sync_batch(hospital, START, settings=settings)
    assert summary.rows_rejected > 0, "the fixture must have rejects for this test to mean much"
    assert summary.status == "quarantined"
    assert summary.reason_code == "reject_rate"
    assert "0.0%" in (summary.reason or "")


def test_reject_rate_quarantine_commits_rejects_with_it(
    settings: Settings, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rejects and the quarantine that explains them commit in one transaction: when
    recording the quarantine fails, no reject row is left behind."""
    from warehouse.pipeline import ops

    registry = prepare(settings, dataset)
    code = hospital_with(manifest_of(dataset), encoding="utf-8", date_era="gregorian")

    def failing(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ops, "record_quarantine", failing)
    with pytest.raises(RuntimeError):
        sync_batch(registry.hospitals[code], START, settings=settings, reject_threshold=0.0001)
    with connect(settings) as conn:
        assert conn.execute("SELECT count(*) FROM ops.reject").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ops.batch").fetchone()[0] == 0
