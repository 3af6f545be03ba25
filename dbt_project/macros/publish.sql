{#- A published view of one fact: the rows the patient's LIVE consent allows (DESIGN §6):
    consent active, the row's hospital in the patient's sender choice, and sensitive rows only
    with the sensitive-data choice. The per-visit gate is NOT applied here: rows carry
    per_visit_required and the API / RLS apply healthlink.per_visit_gate(). `columns` are the
    category's own; the lineage, encounter (when `has_encounter`) and tag columns are added. -#}
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
inner join {{ ref('int_consent__patient_hospital') }} as allowed
    on allowed.patient_key = fact.patient_key
    and allowed.hospital_code = fact.hospital_code
inner join {{ ref('dim_hospital') }} as hospital
    on hospital.hospital_code = fact.hospital_code
    and hospital.is_registered
where not fact.is_sensitive or allowed.sensitive_allowed
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

{#- PostgreSQL only: the rows behind a published fact view, unfiltered (RLS filters them). -#}
{% macro published_rows(fact_model) -%}
{{ healthlink.consent_function_dependencies() }}
select
    fact.*,
    hospital.hospital_name,
    hospital.per_visit_consent as per_visit_required
from {{ ref(fact_model) }} as fact
inner join {{ ref('dim_hospital') }} as hospital
    on hospital.hospital_code = fact.hospital_code
    and hospital.is_registered
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

{% macro default__publish_patient(columns) -%}
select
    {%- for column in columns %}
    patient.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ ref('dim_patient') }} as patient
where exists (
    select 1
    from {{ ref('bridge_patient_hospital') }} as known_at
    inner join {{ ref('int_consent__patient_hospital') }} as allowed
        on allowed.patient_key = known_at.patient_key
        and allowed.hospital_code = known_at.hospital_code
    where known_at.patient_key = patient.patient_key
)
{%- endmacro %}

{% macro postgres__publish_patient(columns) -%}
select
    {%- for column in columns %}
    patient.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ ref('patient_rows') }} as patient
where consent.patient_visible(patient.patient_key, patient.known_at_hospitals)
{%- endmacro %}
