{#- The physician a session acts for. The API sets it per request (PostgreSQL: SET LOCAL
    healthlink.physician_licence / healthlink.physician_hospital; DuckDB: SET VARIABLE
    healthlink_physician_licence / healthlink_physician_hospital). Unset means NULL,
    which matches no grant. -#}

{% macro current_physician_licence() -%}
    {{ return(adapter.dispatch('current_physician_licence', 'healthlink')()) }}
{%- endmacro %}

{% macro postgres__current_physician_licence() -%}
    current_setting('healthlink.physician_licence', true)
{%- endmacro %}

{% macro duckdb__current_physician_licence() -%}
    cast(getvariable('healthlink_physician_licence') as {{ dbt.type_string() }})
{%- endmacro %}

{% macro default__current_physician_licence() -%}
    {{ exceptions.raise_compiler_error("current_physician_licence: no implementation for " ~ target.type) }}
{%- endmacro %}

{% macro current_physician_hospital() -%}
    {{ return(adapter.dispatch('current_physician_hospital', 'healthlink')()) }}
{%- endmacro %}

{% macro postgres__current_physician_hospital() -%}
    current_setting('healthlink.physician_hospital', true)
{%- endmacro %}

{% macro duckdb__current_physician_hospital() -%}
    cast(getvariable('healthlink_physician_hospital') as {{ dbt.type_string() }})
{%- endmacro %}

{% macro default__current_physician_hospital() -%}
    {{ exceptions.raise_compiler_error("current_physician_hospital: no implementation for " ~ target.type) }}
{%- endmacro %}
