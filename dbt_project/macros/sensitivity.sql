{#- Sensitivity tagging from the sensitive_value_sets seed (DESIGN §2 row 9, §6).
    A code is sensitive when it starts with a code_prefix of its code system; when several
    prefixes match (F vs F10) the longest one decides the category. -#}
{% macro code_sensitivity_category(code_system, code_column) -%}
(
    select value_set.sensitivity_category
    from {{ ref('sensitive_value_sets') }} as value_set
    where value_set.code_system = '{{ code_system }}'
      and {{ code_column }} like value_set.code_prefix || '%'
    order by {{ dbt.length('value_set.code_prefix') }} desc, value_set.sensitivity_category
    limit 1
)
{%- endmacro %}

{#- Final tags of a fact row: its own code's category first, else its encounter's
    (an encounter whose principal diagnosis is sensitive makes every row of it sensitive). -#}
{% macro sensitivity_columns(code_category, encounter_category) -%}
    {{ encounter_category }} as encounter_sensitivity_category,
    coalesce({{ code_category }}, {{ encounter_category }}) is not null as is_sensitive,
    coalesce({{ code_category }}, {{ encounter_category }}) as sensitivity_category
{%- endmacro %}
