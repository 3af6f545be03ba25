{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['hospital_code', 'record_key'],
    on_schema_change='append_new_columns',
    pre_hook="{{ healthlink.delete_vanished_rows('stg_raw__allergy') }}"
) }}
-- depends_on: {{ ref('stg_ops__transform_pending') }}
-- depends_on: {{ ref('stg_raw__allergy') }}
-- Grain: One row per drug allergy record per hospital, latest version.
-- Incremental by pending (hospital_code, extract_date); see macros/incremental_facts.sql.
with latest as (
    {{ healthlink.incoming_latest_versions(ref('int_allergy__coded'), has_encounter=false) }}
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
    latest.recorded_date,
    latest.drug_code,
    latest.drug_name,
    latest.reference_drug_name,
    latest.atc_code,
    latest.allergy_type,
    latest.severity,
    latest.symptom,
    latest.informant,
    latest.code_system,
    latest.code_class,
    {{ healthlink.sensitivity_columns('latest.code_sensitivity_category', 'cast(null as ' ~ dbt.type_string() ~ ')') }}
from latest
