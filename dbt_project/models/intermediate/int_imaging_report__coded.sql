-- One row per raw imaging report row; sensitivity only through the encounter.
select
    imaging.*,
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
from {{ ref('stg_raw__imaging_report') }} as imaging
