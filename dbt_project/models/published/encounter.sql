-- Grain: one visible row of fct_encounter (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_encounter', [
    'admission_id', 'start_at', 'end_at', 'location', 'chief_complaint', 'discharge_status'
]) }}
