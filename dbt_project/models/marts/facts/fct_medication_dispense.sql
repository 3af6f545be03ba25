-- Grain: One row per dispensed drug record per hospital, latest version.
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_medication_dispense__coded', [
    'drug_code', 'drug_name', 'reference_drug_name', 'atc_code', 'quantity', 'unit',
    'provider_id', 'code_system', 'code_class', 'source_code_system'
]) }}
