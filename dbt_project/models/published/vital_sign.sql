-- Grain: one visible row of fct_vital_sign (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_vital_sign', [
    'vital_code', 'value', 'unit', 'is_derived'
]) }}
