-- Grain: One row per drug allergy record per hospital, latest version. No encounter: allergies
-- are never sensitive (docs/consent.md).
-- Incremental per pending (hospital_code, extract_date): the folder's config (dbt_project.yml)
-- and macros/incremental_facts.sql.
{{ healthlink.incremental_fact('int_allergy__coded', [
    'recorded_date', 'drug_code', 'drug_name', 'reference_drug_name', 'atc_code',
    'allergy_type', 'severity', 'symptom', 'informant', 'code_system', 'code_class',
    'source_code_system'
], has_encounter=false) }}
