-- One row per raw diagnosis row: ICD-10-TM names and the code's own class (macros/sensitivity.sql).
{% set reference_columns %}
        icd10.name_en as diagnosis_name_en,
        icd10.name_th as diagnosis_name_th,
        cast('icd10' as {{ dbt.type_string() }}) as code_system,
        {{ healthlink.code_class("'icd10'", 'diagnosis.icd10_code') }} as code_class,
        icd10.code is not null as is_code_mapped
{%- endset %}
{{ healthlink.coded_rows(
    'stg_raw__diagnosis', 'diagnosis', 'icd10_tm', 'icd10',
    'icd10.code = diagnosis.icd10_code', reference_columns) }}
