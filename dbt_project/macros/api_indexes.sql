{#- PostgreSQL: the physician API reads the published row tables by patient (the record, the
    consent.patient_sources function) and the patient table by national ID (search). A full
    refresh recreates these tables, so the indexes are post-hooks (dbt_project.yml, folder
    published/rows), no-ops once they exist; on DuckDB this renders nothing (zone maps serve the scans). -#}
{% macro api_indexes() -%}
    {{ return(adapter.dispatch('api_indexes', 'healthlink')()) }}
{%- endmacro %}

{% macro default__api_indexes() -%}{%- endmacro %}

{% macro postgres__api_indexes() -%}
    {%- if not execute or model.config.materialized not in ('table', 'incremental') -%}
        {{ return('') }}
    {%- endif %}
create index if not exists {{ this.identifier }}_patient_key on {{ this }} (patient_key);
    {%- if this.identifier == 'patient_rows' %}
create index if not exists {{ this.identifier }}_cid on {{ this }} (cid);
    {%- endif %}
analyze {{ this }};
{%- endmacro %}
