{#- Helpers dbt has no cross-database macro for; dispatched like tuva's cross_database_utils. -#}

{#- A 64-bit floating point type ("float" is 4 bytes on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'healthlink')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{#- Wall-clock time in Asia/Bangkok as a naive timestamp: the consent and contract timestamps
    are naive local time, so comparisons must be too. -#}
{% macro local_now() -%}
    {{ return(adapter.dispatch('local_now', 'healthlink')()) }}
{%- endmacro %}

{% macro default__local_now() -%}
    ({{ dbt.current_timestamp() }} at time zone 'Asia/Bangkok')
{%- endmacro %}

{#- Round a double to `digits` decimals; PostgreSQL only rounds numerics. -#}
{% macro round_double(expression, digits) -%}
    cast(round(cast({{ expression }} as {{ dbt.type_numeric() }}), {{ digits }}) as {{ healthlink.type_double() }})
{%- endmacro %}
