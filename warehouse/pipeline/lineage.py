"""What the daily sync reads and writes, as OpenLineage names, for the DAG's inlets and outlets.

A catalogue joins datasets by (namespace, name). dbt's tables are named by the OpenLineage
dbt integration (through cosmos) from the dbt profile: namespace `duckdb://<file>` or
`postgres://<host>:<port>`, name `<database>.<schema>.<table>`, the database being the DuckDB
file's stem or the PostgreSQL database. The hospital step's raw tables are named the same way
from the same profile environment (warehouse.settings.dbt_environment_for), so the graph reads
hospital extracts → sync → raw.* → dbt → marts.* → published.*.
Pure: no I/O, safe at DAG parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from connectors.contract import ENTITIES

# What hospitals send, before the warehouse: one dataset for every hospital's extracts (the
# hospital of a run is in the sync task's map index, its code).
EXTRACTS_NAMESPACE = "healthlink"
EXTRACTS_NAME = "hospital_extracts"


class WarehouseTable(NamedTuple):
    namespace: str
    database: str
    table: str  # schema.table

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"


def warehouse_table(dbt_environment: Mapping[str, str], schema: str, table: str) -> WarehouseTable:
    """`schema.table` of the warehouse the dbt profile environment points at."""
    if dbt_environment["DBT_TARGET"] == "postgres":
        return WarehouseTable(
            f"postgres://{dbt_environment['HEALTHLINK_PG_HOST']}:"
            f"{dbt_environment['HEALTHLINK_PG_PORT']}",
            dbt_environment["HEALTHLINK_PG_DBNAME"],
            f"{schema}.{table}",
        )
    path = Path(dbt_environment["HEALTHLINK_DUCKDB_PATH"])
    return WarehouseTable(f"duckdb://{path}", path.stem, f"{schema}.{table}")


def raw_tables(dbt_environment: Mapping[str, str]) -> list[WarehouseTable]:
    """What one hospital's batch writes: every raw.<entity>."""
    return [warehouse_table(dbt_environment, "raw", entity) for entity in ENTITIES]
