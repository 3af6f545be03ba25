-- One row per raw immunization row: MOPH vaccine name and CVX. Vaccines are not sensitive
-- by code (only their encounter can make them so), so unlike the other coded models there is
-- no class to find (macros/coded_rows.sql): a code of another system is kept and shown as
-- sent. A CVX code (contract code_system 'cvx', a FHIR hospital) is known when the MOPH list
-- carries it; it takes the list's name only when all the MOPH codes it stands for share one
-- (CVX 08 is three hepatitis B doses: naming one dose would be wrong). Any other unknown
-- code has no name ("unmapped"), as a native code the list lacks; rpt_unmapped_codes counts
-- them per system.
with cvx as (
    select
        cvx_code,
        case when count(distinct vaccine_name) = 1 then min(vaccine_name) end as vaccine_name
    from {{ ref('vaccine_codes') }}
    where cvx_code is not null
    group by cvx_code
)

select
    immunization.*,
    coalesce(vaccine.vaccine_name, cvx.vaccine_name) as vaccine_name,
    case
        when immunization.source_code_system is null then vaccine.cvx_code
        when immunization.source_code_system = 'cvx' then immunization.vaccine_code
    end as cvx_code,
    coalesce(
        immunization.source_code_system, cast('moph_vaccine' as {{ dbt.type_string() }})
    ) as code_system,
    (vaccine.vaccine_code is not null or cvx.cvx_code is not null) as is_code_mapped,
    cast(null as {{ dbt.type_string() }}) as code_sensitivity_category
from {{ ref('stg_raw__immunization') }} as immunization
left join {{ ref('vaccine_codes') }} as vaccine
    on vaccine.vaccine_code = immunization.vaccine_code
    and immunization.source_code_system is null
left join cvx
    on cvx.cvx_code = immunization.vaccine_code
    and immunization.source_code_system = 'cvx'
