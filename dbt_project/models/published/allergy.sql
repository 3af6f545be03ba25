-- Grain: one visible row of fct_allergy (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_allergy', [
    'recorded_date', 'drug_code', 'drug_name', 'reference_drug_name', 'atc_code',
    'allergy_type', 'severity', 'symptom', 'informant', 'source_code_system'
], has_encounter=false) }}
