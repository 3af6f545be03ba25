{#- The shape of every category's coding (macros/coded_categories.sql): each staged row of
    `staged_rows` (a relation or a parenthesized subquery) with what its code's
    reference seed says of it (`reference_columns`, a SQL select list over the aliases
    `source_alias`, `reference_alias` and `crosswalk`; a code the seed lacks keeps its row,
    with nulls), its code system and class, then the sensitivity of that class
    (macros/sensitivity.sql), or none for a category that is never sensitive.
    `code` says how the row's code is classified:
      column        the staged code column
      native_system the report name of a native code's system (by its shape)
      class_system  the sensitivity_classes system a native code is classified in
      class_key     what of a native row is classified (the code, or its seed's ATC, ...)
    A row whose source_code_system is null is native (43-file, HOSxP, a FHIR Thai code) and
    is read as always; any other is classified through code_crosswalk, or as itself when the
    classes know its system (ATC), and the reference seed is not joined (an RxNorm code may
    have the shape of a TMT code). -#}
{% macro coded_rows(staged_rows, source_alias, reference, reference_alias, join_on, reference_columns, code, sensitive=true) -%}
{%- set native = source_alias ~ '.source_code_system is null' -%}
with classified as (
    select
        {{ source_alias }}.*,
        {{ reference_columns }},
        case when {{ native }} then {{ code.native_system }}
            else {{ source_alias }}.source_code_system end as code_system,
        case when {{ native }} then {{ code.class_system }}
            else coalesce(crosswalk.class_system, {{ source_alias }}.source_code_system)
        end as class_system,
        case when {{ native }} then {{ code.class_key }}
            else coalesce(crosswalk.class_code, {{ source_alias }}.{{ code.column }})
        end as class_key
    from {{ staged_rows }} as {{ source_alias }}
    left join {{ ref(reference) }} as {{ reference_alias }}
        on ({{ join_on }}) and {{ native }}
    left join {{ ref('code_crosswalk') }} as crosswalk
        on crosswalk.source_system = {{ source_alias }}.source_code_system
        and crosswalk.source_code = {{ source_alias }}.{{ code.column }}
),

{#- The class comes from a lateral join, not a scalar subquery in the select list: the
    final select reads code_class three times, and PostgreSQL inlines these CTEs, so a scalar
    subquery ran three times a row (1.6 s against 0.7 s over 43,000 diagnoses). #}
with_class as (
    select
        classified.*,
        class_match.code_class
    from classified
    left join lateral (
        {{ healthlink.code_class_match('classified.class_system', 'classified.class_key') }}
    ) as class_match on true
)

select
    with_class.*,
    {%- if sensitive %}
    {{ healthlink.code_sensitivity_category('with_class') }} as code_sensitivity_category
    {%- else %}
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
    {%- endif %}
from with_class
{%- endmacro %}

{#- The coded rows of `category` (what int_<category>__coded holds) whose staged row meets
    `condition` (SQL over the alias `staged`; none: every row), as a from-item. A category
    coded by coded_rows (macros/coded_categories.sql) codes only the staged rows that meet
    the condition: PostgreSQL will not filter a coded view by a join or EXISTS before its
    lateral class lookup, so a view read for one day classified every row of the history
    (fct_diagnosis's select: 1.9 s against 0.04 s at 10 hospitals x 30 days; rpt_unmapped_codes
    read four such views). The views' own grain tests still read them (a generic test's
    relation is not known when dbt parses it, so it cannot ref the seeds the coding reads).
    Any other category reads its model `coded_model`, filtered. -#}
{% macro coded_relation(category, coded_model, condition=none) -%}
    {%- set coding = category ~ '_coded_rows' -%}
    {%- set rows = ref('stg_raw__' ~ category) if coding in healthlink else ref(coded_model) -%}
    {%- if condition -%}
        {%- set rows = '(select staged.* from ' ~ rows ~ ' as staged where ' ~ condition ~ ')' -%}
    {%- endif -%}
    {%- if coding in healthlink -%}
        {{ return('(\n' ~ healthlink[coding](rows) ~ '\n)') }}
    {%- endif -%}
    {{ return(rows) }}
{%- endmacro %}
