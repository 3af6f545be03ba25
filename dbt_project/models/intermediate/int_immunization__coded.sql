-- One row per raw immunization row: MOPH vaccine name and CVX. Vaccines are not sensitive
-- by code; only their encounter can make them so.
select
    immunization.*,
    vaccine.vaccine_name,
    vaccine.cvx_code,
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
from {{ ref('stg_raw__immunization') }} as immunization
left join {{ ref('vaccine_codes') }} as vaccine
    on vaccine.vaccine_code = immunization.vaccine_code
