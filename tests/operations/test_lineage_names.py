"""The sync's OpenLineage names agree with the dbt integration's on PostgreSQL too (the DuckDB
DAG test checks the DuckDB names against real events): same namespace, same database."""

from __future__ import annotations

from pathlib import Path

from openlineage.common.provider.dbt.processor import Adapter, DbtArtifactProcessor

from warehouse.pipeline.lineage import raw_tables
from warehouse.settings import dbt_environment_for


def test_postgresql_raw_tables_are_named_as_dbt_names_its_sources() -> None:
    environment = dbt_environment_for(
        "postgresql://healthlink_loader@db.internal:5433/healthlink_prod", Path("unused")
    )
    # The profile dbt_project/profiles.yml renders from that environment.
    profile = {
        "type": "postgres",
        "host": environment["HEALTHLINK_PG_HOST"],
        "port": int(environment["HEALTHLINK_PG_PORT"]),
        "dbname": environment["HEALTHLINK_PG_DBNAME"],
    }
    processor = DbtArtifactProcessor.__new__(DbtArtifactProcessor)
    processor.adapter_type = Adapter.POSTGRES

    namespace = processor.extract_namespace(profile)

    tables = raw_tables(environment)
    assert {t.namespace for t in tables} == {namespace} == {"postgres://db.internal:5433"}
    assert tables[0].name == f"healthlink_prod.raw.{tables[0].table.split('.')[1]}"
    assert processor._format_dataset_name("healthlink_prod", "raw", "patient") in {
        t.name for t in tables
    }
