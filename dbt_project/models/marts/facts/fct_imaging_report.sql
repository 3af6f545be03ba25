-- Grain: One row per imaging report record per hospital, latest version.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_imaging_report__coded', [
    'study_id', 'modality', 'body_site', 'study_code', 'conclusion', 'provider_id'
]) }}
