{#- PostgreSQL: the physician API reads the published row tables by patient (the record, the
    consent.patient_sources function) and the patient table by national ID (search). A full
    refresh recreates these tables, so the indexes are post-hooks (dbt_project.yml, folder
    published/rows), no-ops once they exist; on DuckDB this renders nothing (the facts carry
    their own index there: fact_patient_index below). -#}
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

{#- DuckDB: the API's record reads each fact by patient_key alone (warehouse/api/records.py);
    an ART index turns that full scan into a lookup (at 100,000 patients, fct_vital_sign's
    240,000 rows: 41 ms scanned, 2 ms through the index). DuckDB uses an index only for a lone
    equality filter, which is why the API reads the facts without joins. Post-hook of the
    facts (dbt_project.yml); a no-op once the index exists. -#}
{% macro fact_patient_index() -%}
    {{ return(adapter.dispatch('fact_patient_index', 'healthlink')()) }}
{%- endmacro %}

{% macro default__fact_patient_index() -%}{%- endmacro %}

{% macro duckdb__fact_patient_index() -%}
create index if not exists {{ this.identifier }}_patient_key on {{ this }} (patient_key);
{%- endmacro %}

{#- Pre-hook of the facts: DuckDB cannot rename a table that has an index, and a full
    refresh swaps the rebuilt table in by renaming, so the index goes first (the post-hook
    puts it back on the new table). -#}
{% macro drop_fact_patient_index() -%}
    {{ return(adapter.dispatch('drop_fact_patient_index', 'healthlink')()) }}
{%- endmacro %}

{% macro default__drop_fact_patient_index() -%}{%- endmacro %}

{% macro duckdb__drop_fact_patient_index() -%}
    {%- if should_full_refresh() %}
drop index if exists {{ this.schema }}.{{ this.identifier }}_patient_key;
    {%- endif %}
{%- endmacro %}
