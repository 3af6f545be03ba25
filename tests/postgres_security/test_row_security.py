"""Connected as healthlink_api, consent decides every row, counts and aggregates included.

Fixture (tests/support/raw_fixture.py): H3 requires per-visit consent. P_WITHDRAWN withdrew;
P_HOSPITAL chose H3 only (has data at H1 too); P_NETWORK chose network NET01 (H1, H2; has
data at H3); P_ALL chose ALL without the sensitive-data permission and has an HIV visit.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.support.raw_fixture import H1, H2, H3, P_ALL, P_HOSPITAL, P_NETWORK, P_WITHDRAWN
from tests.support.secured_warehouse import SecuredWarehouse
from tests.support.service_roles import (
    API,
    CATEGORIES,
    PATIENT_RELATIONS,
    act_as_physician,
    connect,
    grant_per_visit,
    one,
)

pytestmark = pytest.mark.postgres

LICENCE = "MD-4711"


@pytest.fixture(scope="module")
def granted(secured: SecuredWarehouse) -> SecuredWarehouse:
    """Live grants to LICENCE (working at H1) wherever the fixture has per-visit data, so a
    hidden row below is hidden by the rule under test, not by the per-visit gate."""
    citizen_app = secured.dsn("healthlink_citizen_app")
    for patient in (P_WITHDRAWN, P_NETWORK, P_HOSPITAL):
        grant_per_visit(citizen_app, LICENCE, H1, patient, H3, hours=2)
    return secured


def count_for(conn: psycopg.Connection, relation: str, where: str, params: list) -> int:
    return one(conn, f"SELECT count(*) FROM {relation} WHERE {where}", params)


def test_superuser_sees_the_rows_the_api_must_not(granted: SecuredWarehouse) -> None:
    """The hidden rows exist: the tests below cannot pass on an empty warehouse."""
    with connect(granted.dsn()) as conn:
        for category in CATEGORIES:
            assert count_for(conn, f"published.{category}_rows", "patient_key = %s", [P_WITHDRAWN])
        assert count_for(
            conn,
            "published.encounter_rows",
            "patient_key = %s AND hospital_code = %s",
            [P_HOSPITAL, H1],
        )
        assert count_for(
            conn,
            "published.encounter_rows",
            "patient_key = %s AND hospital_code = %s",
            [P_NETWORK, H3],
        )
        assert count_for(
            conn, "published.encounter_rows", "patient_key = %s AND is_sensitive", [P_ALL]
        )


def test_withdrawn_patient_has_no_row(granted: SecuredWarehouse) -> None:
    with connect(granted.dsn(API)) as conn:
        act_as_physician(conn, LICENCE, H1)
        for relation in (*PATIENT_RELATIONS, "published.patient", "published.patient_rows"):
            assert count_for(conn, relation, "patient_key = %s", [P_WITHDRAWN]) == 0, relation
            patients = one(conn, f"SELECT array_agg(DISTINCT patient_key) FROM {relation}")
            assert P_WITHDRAWN not in (patients or []), relation


def test_hospital_outside_the_senders_choice_has_no_row(granted: SecuredWarehouse) -> None:
    with connect(granted.dsn(API)) as conn:
        act_as_physician(conn, LICENCE, H1)  # holds a live grant for P_NETWORK at H3
        for relation in PATIENT_RELATIONS:
            assert (
                count_for(
                    conn, relation, "patient_key = %s AND hospital_code = %s", [P_HOSPITAL, H1]
                )
                == 0
            )
            assert (
                count_for(
                    conn, relation, "patient_key = %s AND hospital_code = %s", [P_NETWORK, H3]
                )
                == 0
            )
        by_hospital = conn.execute(
            "SELECT hospital_code, count(*) FROM published.encounter"
            " WHERE patient_key = %s GROUP BY hospital_code",
            [P_NETWORK],
        ).fetchall()
        assert dict(by_hospital) == {H1: 1, H2: 1}


def test_sensitive_rows_need_the_patients_permission(granted: SecuredWarehouse) -> None:
    with connect(granted.dsn(API)) as conn:
        for relation in PATIENT_RELATIONS:
            assert count_for(conn, relation, "patient_key = %s AND is_sensitive", [P_ALL]) == 0
            assert (
                count_for(
                    conn,
                    relation,
                    "coalesce(is_sensitive, true) AND patient_key <> %s",
                    [P_NETWORK],
                )
                == 0
            )
        # Every row of the HIV visit (principal B24) is hidden, not only the diagnosis.
        for category in CATEGORIES[1:-1]:
            assert count_for(conn, f"published.{category}", "encounter_id = %s", ["S-HIV"]) == 0
        # P_NETWORK allowed sensitive data: the depression visit shows.
        assert (
            count_for(conn, "published.diagnosis", "patient_key = %s AND is_sensitive", [P_NETWORK])
            == 1
        )


def test_counts_and_aggregates_see_only_allowed_rows(granted: SecuredWarehouse) -> None:
    # No physician set: no per-visit data. S-COMORB is sensitive through a comorbidity
    # (issue 9 finding 4); S-URI stays, only its sertraline and VDRL rows are hidden.
    visible = {"S-COLD", "S-HT", "S-DEP", "S-N2", "S-URI"}
    with connect(granted.dsn(API)) as conn:
        for relation in ("published.encounter", "published.encounter_rows"):
            total, patients, encounters = one(
                conn,
                f"SELECT count(*), count(DISTINCT patient_key), array_agg(encounter_id) FROM {relation}",
            )
            assert (total, patients, set(encounters)) == (5, 2, visible)
        seen = set()
        for category in CATEGORIES[1:-1]:
            seen |= set(
                one(conn, f"SELECT array_agg(DISTINCT encounter_id) FROM published.{category}")
            )
        assert seen == visible
        # Demographics follow consent only (a physician must find P_HOSPITAL to ask for a grant).
        patients = one(conn, "SELECT array_agg(patient_key) FROM published.patient")
        assert sorted(patients) == sorted([P_ALL, P_NETWORK, P_HOSPITAL])


def test_per_visit_rows_need_a_live_grant_for_this_physician_and_hospital(
    granted: SecuredWarehouse,
) -> None:
    def h3_visits(conn: psycopg.Connection) -> int:
        return count_for(
            conn, "published.encounter", "patient_key = %s AND hospital_code = %s", [P_HOSPITAL, H3]
        )

    grant_per_visit(
        granted.dsn("healthlink_citizen_app"), "MD-EXPIRED", H1, P_HOSPITAL, H3, hours=-0.5
    )
    with connect(granted.dsn(API)) as conn:
        assert h3_visits(conn) == 0  # no physician
        conn.commit()
        act_as_physician(conn, "MD-EXPIRED", H1)
        assert h3_visits(conn) == 0  # the grant ended
        conn.commit()
        act_as_physician(conn, LICENCE, H2)
        assert h3_visits(conn) == 0  # granted to the physician at H1, not at H2
        conn.commit()
        act_as_physician(conn, LICENCE, H1)
        assert h3_visits(conn) == 1
        assert (
            count_for(
                conn,
                "published.lab_result_rows",
                "patient_key = %s AND hospital_code = %s",
                [P_HOSPITAL, H3],
            )
            == 1
        )
        conn.commit()
        assert h3_visits(conn) == 0  # next transaction, same connection: the setting is gone
        assert not one(conn, "SELECT current_setting('healthlink.physician_licence', true)")


def test_physician_setting_ends_with_its_transaction(granted: SecuredWarehouse) -> None:
    with connect(granted.dsn(API)) as conn:
        act_as_physician(conn, LICENCE, H1)
        assert one(conn, "SELECT current_setting('healthlink.physician_licence', true)") == LICENCE
        conn.rollback()
        assert not one(conn, "SELECT current_setting('healthlink.physician_licence', true)")
        act_as_physician(conn, LICENCE, H1)
        conn.commit()
        assert not one(conn, "SELECT current_setting('healthlink.physician_hospital', true)")
