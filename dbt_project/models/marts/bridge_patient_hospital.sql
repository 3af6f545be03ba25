-- Grain: one row per (patient_key, hospital_code) that sent the patient's demographics,
-- with the hospital's own HN, so a viewer can say "HN 12345 at hospital X".
-- DuckDB: an index on patient_key for the API's record (macros/api_indexes.sql).
{{ config(
    pre_hook="{{ healthlink.drop_patient_key_index() }}",
    post_hook="{{ healthlink.patient_key_index() }}",
) }}
select
    patient_key,
    hospital_code,
    hn,
    pid,
    first_extract_date,
    last_extract_date
from {{ ref('int_patient__hospitals') }}
