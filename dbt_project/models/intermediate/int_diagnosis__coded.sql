-- One row per raw diagnosis row: ICD-10-TM names and the code's own class (macros/sensitivity.sql).
with classified as (
    select
        diagnosis.*,
        icd10.name_en as diagnosis_name_en,
        icd10.name_th as diagnosis_name_th,
        cast('icd10' as {{ dbt.type_string() }}) as code_system,
        {{ healthlink.code_class("'icd10'", 'diagnosis.icd10_code') }} as code_class,
        icd10.code is not null as is_code_mapped
    from {{ ref('stg_raw__diagnosis') }} as diagnosis
    left join {{ ref('icd10_tm') }} as icd10
        on icd10.code = diagnosis.icd10_code
)

select
    classified.*,
    {{ healthlink.class_sensitivity_category('classified.code_class') }} as code_sensitivity_category
from classified
