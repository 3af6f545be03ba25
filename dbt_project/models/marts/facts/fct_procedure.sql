-- Grain: One row per procedure record per hospital, latest version.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_procedure__coded', [
    'procedure_code', 'procedure_name', 'provider_id', 'code_system', 'code_class',
    'source_code_system'
]) }}
