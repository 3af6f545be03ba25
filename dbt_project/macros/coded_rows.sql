{#- The shape of every int_<category>__coded model: each staged row with what its code's
    reference seed says of it (`reference_columns`, a SQL select list over the aliases
    `source_alias` and `reference_alias`; a code the seed lacks keeps its row, with nulls),
    then the sensitivity of the code's class (macros/sensitivity.sql), or none for a category
    that is never sensitive. -#}
{% macro coded_rows(staged, source_alias, reference, reference_alias, join_on, reference_columns, sensitive=true) -%}
with classified as (
    select
        {{ source_alias }}.*,
        {{ reference_columns }}
    from {{ ref(staged) }} as {{ source_alias }}
    left join {{ ref(reference) }} as {{ reference_alias }}
        on {{ join_on }}
)

select
    classified.*,
    {%- if sensitive %}
    {{ healthlink.class_sensitivity_category('classified.code_class') }} as code_sensitivity_category
    {%- else %}
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
    {%- endif %}
from classified
{%- endmacro %}
