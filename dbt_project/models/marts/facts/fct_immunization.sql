-- Grain: One row per vaccination record per hospital, latest version.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_immunization__coded', [
    'vaccine_code', 'vaccine_name', 'cvx_code', 'vaccine_place', 'provider_id',
    'code_system', 'source_code_system'
]) }}
