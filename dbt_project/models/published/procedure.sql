-- Grain: one visible row of fct_procedure (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_procedure', [
    'procedure_code', 'procedure_name', 'provider_id', 'source_code_system'
]) }}
