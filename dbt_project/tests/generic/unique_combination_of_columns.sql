{#- A grain test: no two rows share this combination of columns (dbt_utils-free). On large
    models the `where` config limits it to the batches being built (macros/being_built.sql). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as rows_with_this_key
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
