{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['hospital_code', 'patient_key', 'encounter_id'],
    on_schema_change='append_new_columns',
    post_hook="{{ healthlink.forget_settled_untagged_encounters() }}",
) }}
-- One row per sensitive encounter (hospital_code, patient_key, encounter_id): ANY current
-- (latest version of each record) diagnosis of the encounter, principal or not, is in a
-- sensitive class. Every row of such an encounter, in any category, is tagged sensitive.
-- When several diagnoses are sensitive the category is the first by name (one tag per row).
--
-- Incremental so that the facts re-tag only what changed (macros/incremental_facts.sql,
-- retagged_encounters): a build recomputes every encounter's tag and writes only the
-- encounters whose tag differs from the one held, with retag_through = the hospital's latest
-- pending extract date. An encounter that is no longer sensitive stays as a row with a null
-- sensitivity_category (read through a left join, the same as no row) until its pending pairs
-- are published; the post-hook then drops it (at once when none was pending, e.g. a purged
-- patient's). A build that fails leaves its pairs pending, so the next one still re-tags what
-- this one changed.
{%- do ref('stg_ops__transform_pending') %}
with latest_diagnosis as (
    select
        hospital_code,
        patient_key,
        encounter_id,
        code_sensitivity_category,
        row_number() over (
            partition by hospital_code, record_key
            order by {{ healthlink.latest_versions_order() }}
        ) as version_rank
    from {{ ref('int_diagnosis__coded') }}
),

current_tag as (
    select
        hospital_code,
        patient_key,
        encounter_id,
        min(code_sensitivity_category) as sensitivity_category
    from latest_diagnosis
    where version_rank = 1
      and code_sensitivity_category is not null
      and encounter_id is not null
    group by hospital_code, patient_key, encounter_id
)

{%- if is_incremental() %}
,

changed as (
    select
        coalesce(current_tag.hospital_code, held.hospital_code) as hospital_code,
        coalesce(current_tag.patient_key, held.patient_key) as patient_key,
        coalesce(current_tag.encounter_id, held.encounter_id) as encounter_id,
        current_tag.sensitivity_category
    from current_tag
    full outer join {{ this }} as held
        on held.hospital_code = current_tag.hospital_code
        and held.patient_key = current_tag.patient_key
        and held.encounter_id = current_tag.encounter_id
    where current_tag.sensitivity_category is distinct from held.sensitivity_category
)

select
    changed.hospital_code,
    changed.patient_key,
    changed.encounter_id,
    changed.sensitivity_category,
    (
        select max(pending.extract_date)
        from {{ ref('stg_ops__transform_pending') }} as pending
        where pending.hospital_code = changed.hospital_code
    ) as retag_through
from changed
{%- else %}

select
    hospital_code,
    patient_key,
    encounter_id,
    sensitivity_category,
    cast(null as date) as retag_through
from current_tag
{%- endif %}
