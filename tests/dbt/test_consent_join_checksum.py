"""The consent join as equi-joins returns the rows of its old `OR`-correlated EXISTS form.

A real dbt build of the fixture on DuckDB; for each consent state, every published view's
checksum (count + sum of row hashes) under the model as built equals the one under the old
form (consent_checksum.OLD_FORM) on the same data. PostgreSQL: test_postgres_target.py.
"""

from __future__ import annotations

import pytest
from conftest import Warehouse

from tests.support.consent_checksum import CONSENT_STATES, CONSENT_VIEW, checksums


@pytest.mark.parametrize("state", CONSENT_STATES)
def test_published_views_match_old_consent_join(built_warehouse: Warehouse, state: str) -> None:
    with built_warehouse.connect() as conn:
        conn.execute("begin transaction")
        try:
            new, old = checksums(conn, "duckdb", CONSENT_STATES[state])
        finally:
            conn.execute("rollback")
    assert new == old
    # The comparison is not vacuous: the fixture's patients see rows in every state.
    assert new[CONSENT_VIEW][0] > 0 and new["published.encounter"][0] > 0
