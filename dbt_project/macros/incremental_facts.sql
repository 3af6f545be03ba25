{#- Incremental selection shared by every fact (DESIGN §6: marts are delete+insert per hospital
    and extract date, so a day's cost follows the day's volume).

    First build / full refresh: the latest version of every (hospital_code, record_key).
    Incremental run: the latest version, across ALL raw, of every key that
      (a) appears in raw rows of a pending (hospital_code, extract_date) pair,
      (b) is in the target with a pending (hospital_code, extract_date) - a reloaded day may have
          lost its version, so the key falls back to the newest remaining one,
      (c) sits in the target with a stale encounter-level sensitivity (a diagnosis loaded for
          another day changed whether its encounter is sensitive).
    "Latest" ranks by extract_date, then received_at, batch, file and line, so replaying an
    older day never overrides a newer version. -#}

{% macro latest_versions_order() -%}
    extract_date desc, received_at desc, batch_id desc, source_file desc, source_line desc
{%- endmacro %}

{% macro incoming_latest_versions(coded_relation, has_encounter=true) -%}
    {%- if is_incremental() %}
with pending as (
    select hospital_code, extract_date from {{ ref('stg_ops__transform_pending') }}
),

incoming_keys as (
    select raw_row.hospital_code, raw_row.record_key
    from {{ coded_relation }} as raw_row
    inner join pending
        on pending.hospital_code = raw_row.hospital_code
        and pending.extract_date = raw_row.extract_date
    union
    select target_row.hospital_code, target_row.record_key
    from {{ this }} as target_row
    inner join pending
        on pending.hospital_code = target_row.hospital_code
        and pending.extract_date = target_row.extract_date
    {%- if has_encounter %}
    union
    select target_row.hospital_code, target_row.record_key
    from {{ this }} as target_row
    left join {{ ref('int_encounter__sensitivity') }} as encounter_tag
        on encounter_tag.hospital_code = target_row.hospital_code
        and encounter_tag.patient_key = target_row.patient_key
        and encounter_tag.encounter_id = target_row.encounter_id
    where target_row.encounter_sensitivity_category
        is distinct from encounter_tag.sensitivity_category
    {%- endif %}
),

candidates as (
    select raw_row.*
    from {{ coded_relation }} as raw_row
    inner join incoming_keys
        on incoming_keys.hospital_code = raw_row.hospital_code
        and incoming_keys.record_key = raw_row.record_key
),
    {%- else %}
with candidates as (
    select * from {{ coded_relation }}
),
    {%- endif %}

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by hospital_code, record_key
            order by {{ healthlink.latest_versions_order() }}
        ) as version_rank
    from candidates
)

select * from ranked where version_rank = 1
{%- endmacro %}

{#- pre_hook of every fact: rows of a pending (hospital_code, extract_date) pair whose record no
    longer exists in raw at all (the day was reloaded without it, or the patient was purged) are
    deleted; rows that still have a version are replaced by the delete+insert itself. -#}
{% macro delete_vanished_rows(raw_model, extra_condition=none) -%}
    {%- if is_incremental() -%}
delete from {{ this }} as target_row
where (
    exists (
        select 1 from {{ ref('stg_ops__transform_pending') }} as pending
        where pending.hospital_code = target_row.hospital_code
          and pending.extract_date = target_row.extract_date
    )
    and not exists (
        select 1 from {{ ref(raw_model) }} as raw_row
        where raw_row.hospital_code = target_row.hospital_code
          and raw_row.record_key = target_row.record_key
    )
)
        {%- if extra_condition %}
    or ({{ extra_condition }})
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
