-- One row per raw procedure row: ICD-9-CM name and the procedure's own class
-- (termination of pregnancy is sensitive; routine obstetric care stays visible).
with classified as (
    select
        performed.*,
        reference.procedure_name,
        {{ healthlink.procedure_code_system('performed.procedure_code') }} as code_system,
        {{ healthlink.code_class(healthlink.procedure_code_system('performed.procedure_code'), 'performed.procedure_code') }} as code_class
    from {{ ref('stg_raw__procedure') }} as performed
    left join {{ ref('procedure_codes') }} as reference
        on reference.procedure_code = performed.procedure_code
)

select
    classified.*,
    {{ healthlink.class_sensitivity_category('classified.code_class') }} as code_sensitivity_category
from classified
