-- Grain: one visible row of fct_lab_result (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_lab_result', [
    'lab_code', 'lab_name', 'loinc_code', 'result_value', 'result_text', 'unit',
    'reference_low', 'reference_high', 'is_out_of_range', 'source_code_system'
]) }}
