-- Grain: One row per lab result record per hospital, latest version.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_lab_result__coded', [
    'lab_code', 'lab_name', 'loinc_code', 'result_value', 'result_text', 'unit',
    'reference_low', 'reference_high', 'is_out_of_range', 'tests_for', 'code_system',
    'code_class', 'source_code_system'
]) }}
