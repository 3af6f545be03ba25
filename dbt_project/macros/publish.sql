{#- A published view of one fact: the rows the patient's LIVE consent allows (DESIGN §6):
    consent active, the row's hospital in the patient's sender choice, and sensitive rows only
    with the sensitive-data choice. The per-visit gate is NOT applied here: rows carry
    per_visit_required and the API / RLS apply healthlink.per_visit_gate(). `columns` are the
    category's own; the lineage, encounter (when `has_encounter`) and tag columns are added.
    DuckDB: an equi-join with int_consent__visible_rows on (patient, hospital, is_sensitive),
    the relation the API's record reads once per request to keep the same rows. -#}
{% macro publish_fact(fact_model, columns, has_encounter=true) -%}
    {%- set published = healthlink.fact_lineage_columns()
        + (healthlink.fact_encounter_columns() if has_encounter else [])
        + columns + ['is_sensitive', 'sensitivity_category'] %}
    {{ return(adapter.dispatch('publish_fact', 'healthlink')(fact_model, published)) }}
{%- endmacro %}

{% macro default__publish_fact(fact_model, columns) -%}
select
    {%- for column in columns %}
    fact.{{ column }},
    {%- endfor %}
    hospital.hospital_name,
    hospital.per_visit_consent as per_visit_required
from {{ ref(fact_model) }} as fact
inner join {{ ref('int_consent__visible_rows') }} as allowed
    on allowed.patient_key = fact.patient_key
    and allowed.hospital_code = fact.hospital_code
    and allowed.is_sensitive = fact.is_sensitive
inner join {{ ref('dim_hospital') }} as hospital
    on hospital.hospital_code = fact.hospital_code
    and hospital.is_registered
{%- endmacro %}

{#- PostgreSQL: the view reads the protected <category>_rows table in published (the API role
    may read nothing else) and applies the same live consent through consent.row_allowed, so
    a reader without RLS (the superuser) sees what the DuckDB view shows. For the API role the
    table's RLS applies consent and the per-visit gate on top (docs/security.md). -#}
{% macro postgres__publish_fact(fact_model, columns) -%}
select
    {%- for column in columns %}
    fact.{{ column }},
    {%- endfor %}
    fact.hospital_name,
    fact.per_visit_required
from {{ ref(fact_model | replace('fct_', '', 1) ~ '_rows') }} as fact
where consent.row_allowed(fact.patient_key, fact.hospital_code, fact.is_sensitive)
{%- endmacro %}

{#- PostgreSQL only: the rows behind a published fact view, unfiltered (RLS filters them).
    Incremental (dbt_project.yml, folder published/rows): delete+insert by (hospital_code,
    record_key) on the batches the facts are built on, so a build writes the day's rows and
    never drops the table (nor, through CASCADE, the views over it), its RLS or its grants.
    One row per row of the fact, whatever its hospital's registration (the facts keep rows of a
    code that sent data unregistered): consent.row_allowed only passes registered hospitals, so
    such rows stay hidden, and appear if the hospital registers later without a rebuild.

    First build / full refresh: every fact row. Incremental run: the fact's rows, by key, of
      (a) the fact's rows of a pending (hospital_code, extract_date) pair (new versions),
      (b) the rows held here for a pending pair (the record may have fallen back to another
          day's version; one with no version left is deleted by prepare_published_rows),
      (c) the rows held here whose encounter sensitivity is stale: the fact re-tags those by
          the same rule (incremental_fact, stale_encounter_rows), whatever their pair.
    That is every key the fact's own run can change (it reads raw of the pending pairs only).

    hospital_name and per_visit_required are the hospital's (dim_hospital), which can change
    for rows written long ago. They stay in the table (consent.patient_sources reads
    per_visit_required there, and the security_invoker views could not join dim_hospital as
    the API role) and refresh_hospital_attributes updates the rows whose copy differs, in
    the same transaction: a rename or a per-visit change rewrites that hospital's rows once. -#}
{% macro published_rows(fact_model, has_encounter=true) -%}
{{ healthlink.consent_function_dependencies() }}
    {#- Read on incremental runs only, so declared at parse time. -#}
    {%- do ref('stg_ops__transform_pending') %}
    {%- do ref('stg_raw__deleted_record') %}
    {%- if has_encounter %}{% do ref('int_encounter__sensitivity') %}{% endif %}
select
    fact.*,
    hospital.hospital_name,
    hospital.per_visit_consent as per_visit_required
from {{ ref(fact_model) }} as fact
inner join {{ ref('dim_hospital') }} as hospital
    on hospital.hospital_code = fact.hospital_code
    {%- if is_incremental() %}
where exists (
    select 1
    from (
        select built.hospital_code, built.record_key
        from {{ ref(fact_model) }} as built
        inner join {{ ref('stg_ops__transform_pending') }} as pending
            on pending.hospital_code = built.hospital_code
            and pending.extract_date = built.extract_date
        union all
        select held.hospital_code, held.record_key
        from {{ this }} as held
        inner join {{ ref('stg_ops__transform_pending') }} as pending
            on pending.hospital_code = held.hospital_code
            and pending.extract_date = held.extract_date
        {%- if has_encounter %}
        union all
        {{ healthlink.stale_encounter_rows(this) }}
        {%- endif %}
    ) as changed
    where changed.hospital_code = fact.hospital_code
      and changed.record_key = fact.record_key
)
    {%- endif %}
{%- endmacro %}

{#- The fact a published row table mirrors: fct_<category> for <category>_rows. -#}
{% macro published_rows_fact(relation) -%}
    {{ return('fct_' ~ relation.identifier | replace('_rows', '')) }}
{%- endmacro %}

{#- Pre-hook of the published row tables (dbt_project.yml), on incremental runs only, inside
    the model's transaction: the building role's write policy when an older build left the
    table without it (macros/security.sql), then the rows whose key left the source:
      fact     rows held for a pending pair, tombstoned by one (a record the source deleted,
               macros/incremental_facts.sql) or derived (is_derived), whose key the fact no
               longer has (the fact's delete_vanished_rows deleted it; a purge deletes from
               both itself, consent.erase_derived_rows);
      patient  patients no longer in dim_patient with a known hospital. -#}
{% macro prepare_published_rows() -%}
    {{ return(adapter.dispatch('prepare_published_rows', 'healthlink')()) }}
{%- endmacro %}

{% macro default__prepare_published_rows() -%}{%- endmacro %}

{% macro postgres__prepare_published_rows() -%}
    {%- if not execute or not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set policy = model.config.meta.get('row_policy') %}
{{ healthlink.ensure_builder_policy() }}
    {%- if policy == 'fact' %}
        {%- set fact = ref(healthlink.published_rows_fact(this)) %}
        {%- set held_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
delete from {{ this }} as held
where (
    exists (
        select 1 from {{ ref('stg_ops__transform_pending') }} as pending
        where pending.hospital_code = held.hospital_code
          and pending.extract_date = held.extract_date
    )
    or {{ healthlink.tombstoned('held', this.identifier | replace('_rows', '')) }}
        {%- if 'is_derived' in held_columns %}
    or held.is_derived
        {%- endif %}
)
and not exists (
    select 1 from {{ fact }} as fact
    where fact.hospital_code = held.hospital_code
      and fact.record_key = held.record_key
);
    {%- elif policy == 'patient' %}
delete from {{ this }} as held
where not exists (
    select 1
    from {{ ref('dim_patient') }} as patient
    inner join {{ ref('bridge_patient_hospital') }} as known
        on known.patient_key = patient.patient_key
    where patient.patient_key = held.patient_key
);
    {%- endif %}
{%- endmacro %}

{#- Post-hook of the published fact row tables: hospital_name and per_visit_required follow
    dim_hospital for every row, old ones included (see published_rows). Rows whose copy is
    current are only read, never rewritten. -#}
{% macro refresh_hospital_attributes() -%}
    {{ return(adapter.dispatch('refresh_hospital_attributes', 'healthlink')()) }}
{%- endmacro %}

{% macro default__refresh_hospital_attributes() -%}{%- endmacro %}

{% macro postgres__refresh_hospital_attributes() -%}
    {%- if not execute or not is_incremental()
        or model.config.meta.get('row_policy') != 'fact' -%}{{ return('') }}{%- endif %}
update {{ this }} as held
set hospital_name = hospital.hospital_name,
    per_visit_required = hospital.per_visit_consent
from {{ ref('dim_hospital') }} as hospital
where hospital.hospital_code = held.hospital_code
  and (held.hospital_name, held.per_visit_required)
      is distinct from (hospital.hospital_name, hospital.per_visit_consent);
{%- endmacro %}

{#- What the post-hook's consent functions read (macros/security.sql), declared so dbt
    knows them at parse time. -#}
{% macro consent_function_dependencies() -%}
-- depends_on: {{ ref('int_consent__patient_hospital') }}
-- depends_on: {{ source('consent', 'hospital') }}
-- depends_on: {{ source('consent', 'per_visit_grant') }}
{%- endmacro %}

{#- published.patient: one row per visible patient (consent active, known at an allowed
    hospital). -#}
{% macro publish_patient(columns) -%}
    {{ return(adapter.dispatch('publish_patient', 'healthlink')(columns)) }}
{%- endmacro %}

{#- An inner join on the visible keys rather than a correlated EXISTS: the same rows, but a
    reader's patient_key filter reaches the bridge and the consent tables through the join
    (DuckDB did not push it into the EXISTS, and built every patient's consent per lookup). -#}
{% macro default__publish_patient(columns) -%}
select
    {%- for column in columns %}
    patient.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ ref('dim_patient') }} as patient
inner join (
    select distinct known_at.patient_key
    from {{ ref('bridge_patient_hospital') }} as known_at
    inner join {{ ref('int_consent__patient_hospital') }} as allowed
        on allowed.patient_key = known_at.patient_key
        and allowed.hospital_code = known_at.hospital_code
) as visible
    on visible.patient_key = patient.patient_key
{%- endmacro %}

{% macro postgres__publish_patient(columns) -%}
select
    {%- for column in columns %}
    patient.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ ref('patient_rows') }} as patient
where consent.patient_visible(patient.patient_key, patient.known_at_hospitals)
{%- endmacro %}

{#- Post-hook of the published row tables (PostgreSQL): statistics refreshed after each build,
    so the API's plans see the new rows at once rather than at autovacuum's next pass. -#}
{% macro analyze_published_rows() -%}
    {{ return(adapter.dispatch('analyze_published_rows', 'healthlink')()) }}
{%- endmacro %}

{% macro default__analyze_published_rows() -%}{%- endmacro %}

{% macro postgres__analyze_published_rows() -%}
    {%- if not execute or model.config.materialized not in ('table', 'incremental') -%}
        {{ return('') }}
    {%- endif %}
analyze {{ this }};
{%- endmacro %}
