-- Grain: one visible row of fct_medication_dispense (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_medication_dispense', [
    'drug_code', 'drug_name', 'reference_drug_name', 'atc_code', 'quantity', 'unit',
    'provider_id', 'source_code_system'
]) }}
