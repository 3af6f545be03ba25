-- PostgreSQL only. Grain: one row of fct_allergy with its hospital's name and per-visit flag;
-- row-level security (consent + per-visit gate) decides what a reader sees.
{{ healthlink.published_rows('fct_allergy', has_encounter=false) }}
