"""The one definition of every table the warehouse package owns, one module per schema.

raw (loaded batches), consent (the consent service's log and projections), ops (batches,
rejects, runs, the effects' checkpoints), audit (the access log) and api (the API's own
state). dbt owns everything downstream (staging, intermediate, marts, published).

The DDL is written once for both dialects (VARCHAR, BIGINT, DOUBLE PRECISION, DATE,
TIMESTAMP, BOOLEAN mean the same on DuckDB and PostgreSQL); the access log's two columns
that differ are rendered per dialect from the same definition (tables/audit.py).
warehouse.storage.schema runs it on both (`healthlink migrate`, first-run setup),
fingerprints it, and the test fixtures build on it. The PostgreSQL migrations hold what is
PostgreSQL's alone (roles, grants, row-level security, definer functions), never a table
definition.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AddedColumn:
    """A column added after its table's first release, for tables that predate it.

    `definition` is what ALTER TABLE ... ADD COLUMN takes on both dialects. DuckDB cannot add
    a NOT NULL column: `not_null` applies on PostgreSQL only, and an upgraded DuckDB table
    allows NULL where a new one has the CREATE's constraint."""

    table: str  # schema.table
    column: str
    definition: str
    not_null: bool = False
