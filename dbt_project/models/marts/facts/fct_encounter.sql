-- Grain: One row per encounter record (visit: SERVICE SEQ; admission: ADMISSION AN) per
-- hospital, latest version.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_encounter__coded', [
    'admission_id', 'start_at', 'end_at', 'location', 'chief_complaint', 'discharge_status'
]) }}
