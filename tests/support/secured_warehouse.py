"""A throwaway PostgreSQL warehouse secured by the migration, and dbt on it as the transformer.

The fixture that builds one is `secured` in tests/postgres_security/conftest.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.support.machine import PG_SERVER, pg_dsn
from warehouse.pipeline.transform import invoke_dbt


@dataclass
class SecuredWarehouse:
    dbname: str
    workdir: Path

    def dsn(self, user: str | None = None) -> str:
        return pg_dsn(self.dbname, user)

    def dbt(self, *args: str) -> None:
        """dbt on this database, connected as the transformer role."""
        env = {
            "DBT_TARGET": "postgres",
            **{f"HEALTHLINK_PG_{k.upper()}": v for k, v in PG_SERVER.items()},
            "HEALTHLINK_PG_USER": "healthlink_transformer",
            "HEALTHLINK_PG_PASSWORD": os.environ.get("HEALTHLINK_PG_TRANSFORMER_PASSWORD", ""),
            "HEALTHLINK_PG_DBNAME": self.dbname,
        }
        result = invoke_dbt(list(args), env, work_dir=self.workdir, quiet=True)
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception}"
