-- One row per raw lab row: name, LOINC, unit and normal range from the MOPH lab list, and the
-- test's sensitivity (HIV antibody, CD4, viral load reveal the diagnosis).
select
    lab.*,
    reference.lab_name,
    reference.loinc_code,
    reference.unit,
    reference.low as reference_low,
    reference.high as reference_high,
    case
        when lab.result_value is null then null
        when reference.low is not null and lab.result_value < reference.low then true
        when reference.high is not null and lab.result_value > reference.high then true
        when reference.low is null and reference.high is null then null
        else false
    end as is_out_of_range,
    {{ healthlink.code_sensitivity_category('lab', 'lab.lab_code') }} as code_sensitivity_category
from {{ ref('stg_raw__lab_result') }} as lab
left join {{ ref('lab_codes') }} as reference
    on reference.lab_code = lab.lab_code
