-- One row per raw encounter row. Encounters carry no code of their own; their sensitivity
-- comes from their principal diagnosis (int_encounter__sensitivity).
select
    encounter.*,
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
from {{ ref('stg_raw__encounter') }} as encounter
