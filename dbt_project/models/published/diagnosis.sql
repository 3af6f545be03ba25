-- Grain: one visible row of fct_diagnosis (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_diagnosis', [
    'diagnosis_type', 'icd10_code', 'diagnosis_name_en', 'diagnosis_name_th', 'provider_id',
    'source_code_system'
]) }}
