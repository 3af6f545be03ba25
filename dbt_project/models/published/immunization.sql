-- Grain: one visible row of fct_immunization (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_immunization', [
    'vaccine_code', 'vaccine_name', 'cvx_code', 'vaccine_place', 'provider_id',
    'source_code_system'
]) }}
