-- One row per raw procedure row: ICD-9-CM name and the procedure's sensitivity.
select
    performed.*,
    reference.procedure_name,
    {{ healthlink.code_sensitivity_category('procedure', 'performed.procedure_code') }} as code_sensitivity_category
from {{ ref('stg_raw__procedure') }} as performed
left join {{ ref('procedure_codes') }} as reference
    on reference.procedure_code = performed.procedure_code
