-- Grain: One row per measurement record per hospital, latest version, plus one derived BMI
-- row per encounter with weight and height.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_vital_sign__with_bmi', [
    'vital_code', 'value', 'unit', 'is_derived'
]) }}
