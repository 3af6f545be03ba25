{#- PostgreSQL: the indexes the physician API reads the published row tables by (patient_key;
    patient_rows also cid, for the search) are dbt's `indexes` config (dbt_project.yml, folder
    published/rows, and patient_rows.sql), created with each table under a fresh name. A
    post-hook `create index if not exists <name>` did not survive a full refresh: the old
    table, renamed aside, still held the name when the hook ran, so the new table got none. -#}

{#- DuckDB: the API's record reads each fact, dim_patient and bridge_patient_hospital by
    patient_key alone (warehouse/api/records.py); an ART index turns that full scan into a
    lookup (at 100,000 patients, fct_vital_sign's 240,000 rows: 41 ms scanned, 2 ms through
    the index; the bridge's 127,000 rows: 4.3 ms of CPU scanned, 0.5 ms looked up). DuckDB
    uses an index only for a lone equality filter, which is why the API reads these tables
    without joins. Post-hook of the facts (dbt_project.yml) and of those two tables (their
    config); a no-op once the index exists. -#}
{% macro patient_key_index() -%}
    {{ return(adapter.dispatch('patient_key_index', 'healthlink')()) }}
{%- endmacro %}

{% macro default__patient_key_index() -%}{%- endmacro %}

{% macro duckdb__patient_key_index() -%}
create index if not exists {{ this.identifier }}_patient_key on {{ this }} (patient_key);
{%- endmacro %}

{#- Pre-hook of the same models: DuckDB cannot rename a table that has an index, and a
    rebuild swaps the new table in by renaming, so the index goes first (the post-hook puts it
    back on the new table): on every build of a table, on a full refresh of a fact. -#}
{% macro drop_patient_key_index() -%}
    {{ return(adapter.dispatch('drop_patient_key_index', 'healthlink')()) }}
{%- endmacro %}

{% macro default__drop_patient_key_index() -%}{%- endmacro %}

{% macro duckdb__drop_patient_key_index() -%}
    {%- if should_full_refresh() or model.config.materialized == 'table' %}
drop index if exists {{ this.schema }}.{{ this.identifier }}_patient_key;
    {%- endif %}
{%- endmacro %}
