{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['hospital_code', 'record_key'],
    on_schema_change='append_new_columns',
    pre_hook="{{ healthlink.delete_vanished_rows('stg_raw__procedure') }}"
) }}
-- depends_on: {{ ref('stg_ops__transform_pending') }}
-- depends_on: {{ ref('stg_raw__procedure') }}
-- Grain: One row per procedure record per hospital, latest version.
-- Incremental by pending (hospital_code, extract_date); see macros/incremental_facts.sql.
with latest as (
    {{ healthlink.incoming_latest_versions(ref('int_procedure__coded'), has_encounter=true) }}
)

select
    latest.hospital_code,
    latest.record_key,
    latest.source_file,
    latest.source_line,
    latest.recorded_at,
    latest.received_at,
    latest.extract_date,
    latest.batch_id,
    latest.patient_key,
    latest.pid,
    latest.encounter_id,
    latest.encounter_class,
    latest.service_date,
    latest.procedure_code,
    latest.procedure_name,
    latest.provider_id,
    latest.code_system,
    latest.code_class,
    {{ healthlink.sensitivity_columns('latest.code_sensitivity_category', 'encounter_tag.sensitivity_category') }}
from latest
left join {{ ref('int_encounter__sensitivity') }} as encounter_tag
    on encounter_tag.hospital_code = latest.hospital_code
    and encounter_tag.patient_key = latest.patient_key
    and encounter_tag.encounter_id = latest.encounter_id
