-- One row per raw diagnosis row: ICD-10-TM names and the code's own sensitivity.
select
    diagnosis.*,
    icd10.name_en as diagnosis_name_en,
    icd10.name_th as diagnosis_name_th,
    {{ healthlink.code_sensitivity_category('icd10', 'diagnosis.icd10_code') }} as code_sensitivity_category
from {{ ref('stg_raw__diagnosis') }} as diagnosis
left join {{ ref('icd10_tm') }} as icd10
    on icd10.code = diagnosis.icd10_code
