"""Small helpers shared by the warehouse tests (real warehouses, real files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from warehouse.consent.sender_choice import import_registrations, sync_hospitals
from warehouse.hospital_registry import Registry, load_registry
from warehouse.pipeline.batch import sync_batch
from warehouse.pipeline.ops import BatchSummary
from warehouse.settings import Settings
from warehouse.storage.connection import WarehouseConnection, connect
from warehouse.storage.schema import setup_schema


def prepare(settings: Settings, dataset: Path) -> Registry:
    registry = load_registry(settings.registry_dir)
    with connect(settings) as conn:
        setup_schema(conn)
        sync_hospitals(conn, registry)
        import_registrations(conn, dataset / "consent" / "registrations.csv", key(settings))
    return registry


def key(settings: Settings) -> bytes:
    return settings.pseudonym_key.get_secret_value().encode("utf-8")


def ingest_all(settings: Settings, registry: Registry, day: date) -> dict[str, BatchSummary]:
    return {
        code: sync_batch(hospital, day, settings=settings)
        for code, hospital in registry.hospitals.items()
    }


def table_checksums(conn: WarehouseConnection, schemas: tuple[str, ...]) -> dict[str, tuple]:
    """Order-independent checksum of every table and view in the given schemas."""
    names = conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        f"WHERE table_schema IN ({', '.join('?' for _ in schemas)}) ORDER BY 1",
        list(schemas),
    ).fetchall()
    checksums = {}
    for (name,) in names:
        checksums[name] = conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) "
            f"FROM (SELECT md5(CAST(t AS VARCHAR)) AS h FROM {name} AS t) AS hashes"
        ).fetchone()
    return checksums
