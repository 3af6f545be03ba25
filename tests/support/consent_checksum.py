"""Checksums of the published views under the consent join as built and under its OLD form.

int_consent__patient_hospital (the one SQL home of the sender-choice rule) is written as a
union of equi-joins so DuckDB can hash-join it. OLD_FORM below is the cross join with an
`OR`-correlated EXISTS it replaced, kept verbatim as the reference. Within one transaction
(rolled back), the checker computes an order-independent checksum (row count + sum of a hash
of each row) of every published view and of the consent view itself, swaps the consent view
for OLD_FORM (the published views, and on PostgreSQL the consent functions behind them, read
it by name), computes the same checksums again and returns both. A dropped or duplicated row
changes the count or the sum.

On DuckDB the published fact views join int_consent__visible_rows, and the old checksums
swap OLD_FACT_FORM in too (the consent view joined directly, the sensitive choice in a WHERE).
The API's DuckDB record reads that relation once and the facts by patient key
(warehouse/api/records.py); `view_record_rows` is the record as it was read before, one
gated query per published view, and `api_record_rows` the same shape from a read record.

CONSENT_STATES are the consent data compared, each applied to the fixture of raw_fixture
(ALL, LIST by network, LIST by hospital, withdrawn, sensitive opt-outs, a per-visit hospital)
inside the transaction: the fixture as is, choices that overlap (a hospital named directly
and through its network, ALL with named hospitals, a duplicated sender row, a withdrawn
patient's list, a hospital without network), and flipped scopes and sensitive choices.
"""

from __future__ import annotations

from typing import Any

from tests.support.raw_fixture import H1, H3, P_ALL, P_HOSPITAL, P_NETWORK, P_WITHDRAWN
from warehouse.api.records import (
    CATEGORY_VIEWS,
    HIDDEN_COLUMNS,
    SENSITIVE,
    PatientRecordData,
    with_offset,
)

CONSENT_VIEW = "intermediate.int_consent__patient_hospital"

# The rule as it was before the rewrite (commit 7a57179), relations schema-qualified.
OLD_FORM = """
select
    patient_consent.patient_key,
    hospital.hospital_code,
    patient_consent.sensitive_allowed
from staging.stg_consent__patient_consent as patient_consent
cross join staging.stg_consent__hospital as hospital
where patient_consent.status = 'active'
  and (
    patient_consent.sender_scope = 'ALL'
    or exists (
        select 1
        from staging.stg_consent__patient_sender as sender
        where sender.patient_key = patient_consent.patient_key
          and (
            (sender.kind = 'hospital' and sender.code = hospital.hospital_code)
            or (sender.kind = 'network' and sender.code = hospital.network_code)
          )
    )
  )
"""

# DuckDB's published.patient before it joined the visible keys (macros/publish.sql,
# default__publish_patient): a correlated EXISTS. Swapped in with OLD_FORM on DuckDB, so the
# old checksums are those of all the old forms.
PATIENT_COLUMNS = (
    "patient_key, cid, prename, first_name, last_name, sex, birth_date,"
    " first_seen_extract_date, last_seen_extract_date, hospitals_count"
)
OLD_PATIENT_FORM = f"""
select {", ".join(f"patient.{c.strip()}" for c in PATIENT_COLUMNS.split(","))}
from marts.dim_patient as patient
where exists (
    select 1
    from marts.bridge_patient_hospital as known_at
    inner join intermediate.int_consent__patient_hospital as allowed
        on allowed.patient_key = known_at.patient_key
        and allowed.hospital_code = known_at.hospital_code
    where known_at.patient_key = patient.patient_key
)
"""

# DuckDB's published fact views before they joined int_consent__visible_rows
# (macros/publish.sql, default__publish_fact): the consent view and the sensitive choice in
# a WHERE. Swapped in with OLD_FORM on DuckDB; {fact_columns} are the view's own columns.
OLD_FACT_FORM = """
select {fact_columns}, hospital.hospital_name, hospital.per_visit_consent as per_visit_required
from marts.fct_{view} as fact
inner join intermediate.int_consent__patient_hospital as allowed
    on allowed.patient_key = fact.patient_key
    and allowed.hospital_code = fact.hospital_code
inner join marts.dim_hospital as hospital
    on hospital.hospital_code = fact.hospital_code
    and hospital.is_registered
where not fact.is_sensitive or allowed.sensitive_allowed
"""

# The published views that apply consent (hospital_freshness does not, and is checked too).
CONSENT_VIEWS = {"patient", *(view for _, view in CATEGORY_VIEWS)}


def _sender(patient: str, kind: str, code: str) -> str:
    return f"insert into consent.patient_sender values ('{patient}', '{kind}', '{code}')"


CONSENT_STATES: dict[str, list[str]] = {
    "fixture": [],
    "overlapping choices": [
        _sender(P_HOSPITAL, "network", "NET02"),  # H3 named and through its network
        _sender(P_HOSPITAL, "hospital", H1),
        _sender(P_HOSPITAL, "network", "NET01"),  # H1 twice again, H2 through the network
        _sender(P_ALL, "hospital", H1),  # ALL and a named hospital
        _sender(P_ALL, "network", "NET02"),
        _sender(P_NETWORK, "network", "NET01"),  # the same choice twice (no unique key)
        _sender(P_NETWORK, "hospital", "99999"),  # not a participating hospital
        _sender(P_WITHDRAWN, "hospital", H1),  # withdrawn: the list allows nothing
        _sender(P_HOSPITAL, "ALL", "ALL"),  # not a kind: allows nothing
        "insert into consent.hospital (hospital_code, hospital_name, network_code,"
        " participating_since, per_visit_consent)"
        " values ('10004', 'no network', null, date '2025-01-01', false)",
    ],
    "scopes flipped": [
        f"update consent.patient_consent set sender_scope = 'LIST' where patient_key = '{P_ALL}'",
        "update consent.patient_consent set sender_scope = 'ALL', sensitive_allowed = false"
        f" where patient_key = '{P_NETWORK}'",
        "update consent.patient_consent set status = 'active', sender_scope = 'LIST'"
        f" where patient_key = '{P_WITHDRAWN}'",
        _sender(P_WITHDRAWN, "hospital", H3),
        "update consent.patient_consent set sensitive_allowed = true"
        f" where patient_key = '{P_HOSPITAL}'",
    ],
}

# count + sum of a 60-bit hash of each row's text: order-independent, no overflow.
CHECKSUM_SQL = {
    "duckdb": "select count(*), coalesce(sum(hash(relation)), 0) from {name} as relation",
    "postgres": (
        "select count(*), coalesce(sum(('x' || substr(md5(relation::text), 1, 15))"
        "::bit(60)::bigint), 0) from {name} as relation"
    ),
}


def _published_views(cursor: Any) -> list[str]:
    cursor.execute(
        "select table_name from information_schema.views where table_schema = 'published'"
        " order by table_name"
    )
    names = [str(name) for (name,) in cursor.fetchall()]
    assert set(names) >= CONSENT_VIEWS, names
    return names


def checksums(cursor: Any, dialect: str, statements: list[str]) -> tuple[dict, dict]:
    """(new form, old form) checksums per relation after `statements`; the caller's
    connection must be in a transaction that it rolls back afterwards."""
    for statement in statements:
        cursor.execute(statement)
    relations = [CONSENT_VIEW] + [f"published.{n}" for n in _published_views(cursor)]

    def measure() -> dict[str, tuple[int, int]]:
        sums = {}
        for relation in relations:
            cursor.execute(CHECKSUM_SQL[dialect].format(name=relation))
            count, total = cursor.fetchone()
            sums[relation] = (int(count), int(total))
        return sums

    new = measure()
    cursor.execute(f"create or replace view {CONSENT_VIEW} as {OLD_FORM}")
    if dialect == "duckdb":
        cursor.execute(f"create or replace view published.patient as {OLD_PATIENT_FORM}")
        for _, view in CATEGORY_VIEWS:
            cursor.execute(
                f"create or replace view published.{view} as {_old_fact_form(cursor, view)}"
            )
    old = measure()
    return new, old


def _old_fact_form(cursor: Any, view: str) -> str:
    cursor.execute(
        "select column_name from duckdb_columns() where schema_name = 'published'"
        " and table_name = ? and column_name not in ('hospital_name', 'per_visit_required')"
        " order by column_index",
        [view],
    )
    columns = ", ".join(f"fact.{name}" for (name,) in cursor.fetchall())
    return OLD_FACT_FORM.format(fact_columns=columns, view=view)


RecordRows = dict[tuple[str, str, str], dict[str, Any]]


def view_record_rows(cursor: Any, gate_sql: str, patient_key: str) -> tuple[RecordRows, set[str]]:
    """The record as the API read it from the published views before (one query per view,
    the gate per row): the shown columns per (category, hospital, record key), and the
    hospitals holding a row whose gate is closed."""
    rows: RecordRows = {}
    closed: set[str] = set()
    for category, view in CATEGORY_VIEWS:
        cursor.execute(
            f"SELECT gated.*, ({gate_sql}) AS gate_open FROM published.{view} AS gated"
            " WHERE gated.patient_key = ?",
            [patient_key],
        )
        names = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            if not row["gate_open"]:
                closed.add(row["hospital_code"])
            shown = {k: with_offset(k, v) for k, v in row.items() if k not in HIDDEN_COLUMNS}
            rows[(category, row["hospital_code"], row["record_key"])] = shown
    return rows, closed


def api_record_rows(record: PatientRecordData) -> tuple[RecordRows, set[str]]:
    """The same shape from records.read_record's answer: its rows, and its hospitals whose
    gate is closed (withheld, or shown under break-glass)."""
    rows: RecordRows = {}
    for section in record.hospitals:
        for category, shown in section.categories.items():
            for row in shown if category != SENSITIVE else []:
                rows[(category, section.hospital_code, row["record_key"])] = row
    return rows, {h.hospital_code for h in record.hospitals if not h.gate_open}
