-- Grain: One row per diagnosis record per hospital, latest version; diagnosis_type '1' is the
-- principal diagnosis.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_diagnosis__coded', [
    'diagnosis_type', 'icd10_code', 'diagnosis_name_en', 'diagnosis_name_th', 'provider_id',
    'code_system', 'code_class', 'source_code_system'
]) }}
