-- Grain: one visible row of fct_imaging_report (live consent applied; per-visit gate left to the API / RLS).
{{ healthlink.publish_fact('fct_imaging_report', [
    'study_id', 'modality', 'body_site', 'study_code', 'conclusion', 'provider_id'
]) }}
