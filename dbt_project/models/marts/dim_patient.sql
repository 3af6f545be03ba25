-- Grain: one row per patient_key (the pseudonymous HMAC of the national ID).
-- DuckDB: an index on patient_key for the API's record (macros/api_indexes.sql).
{{ config(
    pre_hook="{{ healthlink.drop_patient_key_index() }}",
    post_hook="{{ healthlink.patient_key_index() }}",
) }}
select
    patient_key,
    cid,
    prename,
    first_name,
    last_name,
    sex,
    birth_date,
    demographics_hospital_code,
    first_seen_extract_date,
    last_seen_extract_date,
    first_received_at,
    hospitals_count
from {{ ref('int_patient__identity') }}
